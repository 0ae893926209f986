package hook

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/metrics"
	"github.com/irismirror/iris-mirror-agent/probe"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// member drives a real state machine; each call returns the next snapshot.
type member struct {
	m   *checker.Machine
	now time.Time
}

func newMember() *member {
	return &member{m: checker.New(checker.Config{Rise: 1, Fall: 1, Lease: forever},
		[]checker.ProbeSpec{{Name: probe.MirrorStatusName}}, t0), now: t0}
}

func (m *member) set(o probe.Outcome, reason string) *checker.Snapshot {
	m.now = m.now.Add(time.Second)
	return observe(m.m, m.now, probe.Result{Probe: probe.MirrorStatusName, Outcome: o, Reason: reason})
}

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

type counts struct {
	mu sync.Mutex
	n  map[metrics.HookResult]int
}

func (c *counts) add(r metrics.HookResult) { c.mu.Lock(); c.n[r]++; c.mu.Unlock() }
func (c *counts) get(r metrics.HookResult) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[r]
}

func start(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitFile(t *testing.T, path string, lines int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		got := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(b) > 0 && len(got) >= lines {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines, want %d: %q", path, len(got), lines, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHookGetsEachChangeInOrder(t *testing.T) {
	log := filepath.Join(t.TempDir(), "calls")
	bin := script(t, `echo "$IRIS_MIRROR_AGENT_MEMBER $IRIS_MIRROR_AGENT_PREVIOUS_ROLE>$IRIS_MIRROR_AGENT_ROLE routable=$IRIS_MIRROR_AGENT_ROUTABLE was=$IRIS_MIRROR_AGENT_PREVIOUS_ROUTABLE reason=$IRIS_MIRROR_AGENT_REASON $1" >> `+log+`; echo done`)
	c := &counts{n: map[metrics.HookResult]int{}}
	r := &Runner{Argv: []string{bin, "arg1"}, Timeout: 5 * time.Second, Member: "ap1a", Logger: zerolog.Nop(), Count: c.add}
	start(t, r)
	m := newMember()
	prev := m.m.Snapshot()
	step := func(o probe.Outcome, reason string, wantLines int) {
		next := m.set(o, reason)
		r.Watch(prev, next)
		prev = next
		waitFile(t, log, wantLines)
	}
	step(probe.Primary, "mirror_status 200 SUCCESS", 1)
	step(probe.Primary, "mirror_status 200 SUCCESS", 1) // no change: no run
	step(probe.NotPrimary, "mirror_status 503 FAILED", 2)
	got := waitFile(t, log, 2)
	want := []string{
		"ap1a unknown>primary routable=true was=false reason=mirror_status 200 SUCCESS arg1",
		"ap1a primary>standby routable=false was=true reason=mirror_status 503 FAILED arg1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A run is counted once the script has exited, after its line landed.
	for deadline := time.Now().Add(5 * time.Second); c.get(metrics.HookOK) < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // and no third run follows
	if c.get(metrics.HookOK) != 2 {
		t.Errorf("ok runs %d, want 2", c.get(metrics.HookOK))
	}
}

func TestSlowHookNeverBlocksAndIsKilledWhole(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	bin := script(t, `sleep 30 & echo $! > `+pidFile+`; wait`)
	c := &counts{n: map[metrics.HookResult]int{}}
	r := &Runner{Argv: []string{bin}, Timeout: 300 * time.Millisecond, Member: "ap1a", Logger: zerolog.Nop(), Count: c.add}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	m := newMember()
	prev := m.m.Snapshot()
	begin := time.Now()
	for i := range 50 { // flapping role: every Watch returns at once
		o := probe.Primary
		if i%2 == 1 {
			o = probe.NotPrimary
		}
		next := m.set(o, "x")
		r.Watch(prev, next)
		prev = next
	}
	// Waiting even once for the hook (it sleeps until killed at
	// r.Timeout) would take the whole timeout.
	if d := time.Since(begin); d >= r.Timeout {
		t.Errorf("50 changes took %v to record, the hook's timeout (%v): Watch must not wait on the hook", d, r.Timeout)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.get(metrics.HookTimeout) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.get(metrics.HookTimeout) < 1 {
		t.Fatal("the slow hook was not timed out")
	}
	// Stop the runner (a later merged run may be in flight: it is killed
	// too), then the child of whichever run wrote the pid must be gone.
	cancel()
	<-done
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if alive(pid) {
		t.Errorf("the hook's child %d outlived the timeout", pid)
	}
}

// alive reports whether pid runs (a zombie waiting for init does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestChangesDuringARunAreMerged(t *testing.T) {
	log := filepath.Join(t.TempDir(), "calls")
	gate := filepath.Join(t.TempDir(), "go")
	// The first run waits for the test to create the gate file.
	bin := script(t, `while [ ! -e `+gate+` ]; do sleep 0.01; done; echo "$IRIS_MIRROR_AGENT_PREVIOUS_ROLE>$IRIS_MIRROR_AGENT_ROLE" >> `+log)
	r := &Runner{Argv: []string{bin}, Timeout: 5 * time.Second, Member: "ap1a", Logger: zerolog.Nop()}
	start(t, r)
	m := newMember()
	prev := m.m.Snapshot()
	for _, o := range []probe.Outcome{probe.Primary, probe.NotPrimary, probe.Error, probe.NotPrimary, probe.Primary} {
		next := m.set(o, "x")
		r.Watch(prev, next)
		prev = next
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// First run: unknown>primary. Meanwhile primary>standby>down>standby>primary
	// happened; merged, that is primary>primary: nothing to tell. The
	// role is back where the hook last saw it.
	time.Sleep(200 * time.Millisecond)
	got := waitFile(t, log, 1)
	if len(got) != 1 || got[0] != "unknown>primary" {
		t.Fatalf("runs %q, want only unknown>primary", got)
	}
}

func TestFailureIsCounted(t *testing.T) {
	c := &counts{n: map[metrics.HookResult]int{}}
	r := &Runner{Argv: []string{script(t, "echo boom >&2; exit 3")}, Timeout: time.Second, Member: "x", Logger: zerolog.Nop(), Count: c.add}
	start(t, r)
	m := newMember()
	r.Watch(m.m.Snapshot(), m.set(probe.Primary, "ok"))
	deadline := time.Now().Add(5 * time.Second)
	for c.get(metrics.HookFailed) < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.get(metrics.HookFailed) != 1 {
		t.Fatalf("failures %d", c.get(metrics.HookFailed))
	}
}

func TestStateOfUsesMirrorRole(t *testing.T) {
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: forever},
		[]checker.ProbeSpec{{Name: probe.MirrorStatusName}, {Name: probe.QListName}}, t0)
	q := probe.QList{Instance: "IRIS", Status: "running", State: "ok", MemberType: "Disaster Recovery", MirrorStatus: "Connected"}
	out, reason := q.Classify()
	s := observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.NotPrimary, Reason: "503"},
		probe.Result{Probe: probe.QListName, Outcome: out, Reason: reason, QList: &q})
	if st := StateOf(s); st.Role != "async" || st.Routable {
		t.Fatalf("%+v", st)
	}
}

// observe feeds a round that started and finished at now; forever is a
// lease that outlives the test (readers here read it with the real clock).
func observe(m *checker.Machine, now time.Time, results ...probe.Result) *checker.Snapshot {
	s, _ := m.Observe(now, now, results...)
	return s
}

const forever = 100 * 365 * 24 * time.Hour
