package fence

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/testbed/syncbuf"
)

// fakeKernel records what the fence asks of the kernel.
type fakeKernel struct {
	mu       sync.Mutex
	closed   bool
	rejected uint64 // the rules' counter
	tampered bool   // the next Close finds the rule changed
	fail     error  // every call fails with it while set
	block    chan struct{}
	cutN     int // sessions each Cut finds
	cuts     []time.Time
	changes  []string // "open"/"close" each time the state changed
}

func (k *fakeKernel) wait() {
	k.mu.Lock()
	b := k.block
	k.mu.Unlock()
	if b != nil {
		<-b
	}
}

func (k *fakeKernel) Close() (KernelState, error) {
	k.wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return KernelState{}, k.fail
	}
	before := KernelState{Closed: k.closed, Intact: k.closed && !k.tampered, Rejected: k.rejected}
	if !before.Intact {
		k.rejected = 0
	}
	if !k.closed {
		k.changes = append(k.changes, "close")
	}
	k.closed, k.tampered = true, false
	return before, nil
}

func (k *fakeKernel) Open() (KernelState, error) {
	k.wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail != nil {
		return KernelState{}, k.fail
	}
	before := KernelState{Closed: k.closed, Intact: k.closed && !k.tampered, Rejected: k.rejected}
	if k.closed {
		k.changes = append(k.changes, "open")
	}
	k.closed, k.rejected = false, 0
	return before, nil
}

func (k *fakeKernel) Cut() (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cuts = append(k.cuts, time.Now())
	return k.cutN, nil
}

func (k *fakeKernel) snapshot() (closed bool, cuts []time.Time, changes []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed, append([]time.Time(nil), k.cuts...), append([]string(nil), k.changes...)
}

// started builds a fence on a fake kernel and runs it until the test ends.
func started(t *testing.T, drain time.Duration) (*Fence, *fakeKernel, *syncbuf.Buffer) {
	t.Helper()
	k := &fakeKernel{cutN: 1}
	logs := &syncbuf.Buffer{}
	f, err := newWith(Config{Rule: Rule{Ports: []uint16{1972}}, Drain: drain, Member: "m", Logger: zerolog.New(logs)}, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, changes := k.snapshot(); len(changes) != 1 || changes[0] != "close" {
		t.Fatalf("New: kernel changes %v; want it closed", changes)
	}
	k.changes = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, k, logs
}

// eventually polls cond for up to 5 s (a bound far above any reaction
// under test: the assertions on timing are made on recorded instants).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

func TestStartsClosedAndCutsNothingWithoutAVerdict(t *testing.T) {
	f, k, _ := started(t, 0)
	closed, _, _ := k.snapshot()
	if !closed || f.Open() || f.Stats().State != "closed" || !strings.HasPrefix(f.Stats().Reason, "starting") {
		t.Fatalf("a new fence: kernel closed %v, stats %+v", closed, f.Stats())
	}
	time.Sleep(50 * time.Millisecond)
	if _, cuts, _ := k.snapshot(); len(cuts) != 0 {
		t.Fatalf("cut %d times before any verdict: an agent restarting on a primary must not cut its clients", len(cuts))
	}
}

func TestOpensOnPrimaryAndClosesAtTheLeaseEnd(t *testing.T) {
	const lease = 150 * time.Millisecond
	f, k, logs := started(t, 0)
	until := time.Now().Add(lease)
	f.Set(true, until, "primary")
	eventually(t, "open", f.Open)
	eventually(t, "closed by itself at the lease's end", func() bool { c, _, _ := k.snapshot(); return c })
	closedAt := time.Now()
	if closedAt.Before(until) {
		t.Fatalf("closed before the lease ended")
	}
	eventually(t, "cut after the lease ended", func() bool { _, cuts, _ := k.snapshot(); return len(cuts) > 0 })
	if _, cuts, _ := k.snapshot(); cuts[0].Before(until) {
		t.Fatalf("cut %v before the lease's end", until.Sub(cuts[0]))
	}
	if st := f.Stats(); st.State != "closed" || !strings.Contains(st.Reason, "lease ran out") || f.Open() {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "fence open") || !strings.Contains(logs.String(), "fence closed") {
		t.Fatalf("logs:\n%s", logs)
	}
}

func TestRenewedLeaseKeepsItOpen(t *testing.T) {
	f, k, _ := started(t, 0)
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		f.Set(true, time.Now().Add(200*time.Millisecond), "primary")
	}
	eventually(t, "open", f.Open)
	if _, cuts, changes := k.snapshot(); len(cuts) != 0 || len(changes) != 1 {
		t.Fatalf("changes %v, %d cuts; want one open and no cut", changes, len(cuts))
	}
}

// A verdict whose lease has passed when it is applied never opens it.
func TestStaleVerdictNeverOpens(t *testing.T) {
	f, k, _ := started(t, 0)
	f.Set(true, time.Now().Add(-time.Millisecond), "primary")
	time.Sleep(50 * time.Millisecond)
	if _, _, changes := k.snapshot(); len(changes) != 0 || f.Open() {
		t.Fatalf("an expired verdict opened the fence: %v", changes)
	}
}

func TestDemotionCutsAfterTheDrain(t *testing.T) {
	const drain = 200 * time.Millisecond
	f, k, _ := started(t, drain)
	f.Set(true, time.Now().Add(time.Minute), "primary")
	eventually(t, "open", f.Open)
	demoted := time.Now()
	f.Set(false, time.Now().Add(time.Minute), "role standby")
	eventually(t, "closed", func() bool { c, _, _ := k.snapshot(); return c })
	eventually(t, "cut", func() bool { _, cuts, _ := k.snapshot(); return len(cuts) > 0 })
	_, cuts, _ := k.snapshot()
	if d := cuts[0].Sub(demoted); d < drain {
		t.Fatalf("cut %v after the demotion; want the drain (%v) first", d, drain)
	}
	// Every later verdict sweeps again (a handshake that crossed the rule).
	f.Set(false, time.Now().Add(time.Minute), "role standby")
	eventually(t, "swept again", func() bool { _, c, _ := k.snapshot(); return len(c) > len(cuts) })
	// The sweep counts its cuts just after the kernel made them.
	eventually(t, "both cuts counted", func() bool { return f.Stats().Cut >= 2 })
}

func TestPromotionDuringTheDrainKeepsSessions(t *testing.T) {
	f, k, _ := started(t, 300*time.Millisecond)
	f.Set(true, time.Now().Add(time.Minute), "primary")
	eventually(t, "open", f.Open)
	f.Set(false, time.Now().Add(time.Minute), "role standby")
	eventually(t, "closed", func() bool { return !f.Open() })
	f.Set(true, time.Now().Add(time.Minute), "primary")
	eventually(t, "open again", f.Open)
	time.Sleep(500 * time.Millisecond)
	if _, cuts, _ := k.snapshot(); len(cuts) != 0 {
		t.Fatalf("cut %d times: sessions still draining serve the primary again", len(cuts))
	}
}

// Set is called by the publisher of snapshots: it must return at once
// even while the kernel hangs.
func TestSetNeverBlocks(t *testing.T) {
	f, k, _ := started(t, 0)
	k.mu.Lock()
	k.block = make(chan struct{})
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		close(k.block)
		k.block = nil
		k.mu.Unlock()
	}()
	start := time.Now()
	for i := range 100_000 {
		f.Set(i%2 == 0, time.Now().Add(time.Second), "flapping")
		f.Hold()
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("100000 Sets took %v with the kernel hung", d)
	}
	_ = f.Stats() // and Stats does not wait on the kernel either
}

func TestHoldLeavesTheFenceAsItWas(t *testing.T) {
	for _, open := range []bool{true, false} {
		k := &fakeKernel{}
		logs := &syncbuf.Buffer{}
		f, err := newWith(Config{Rule: Rule{Ports: []uint16{1972}}, Drain: time.Hour, Logger: zerolog.New(logs)}, k)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = f.Run(ctx); close(done) }()
		f.Set(true, time.Now().Add(500*time.Millisecond), "primary")
		eventually(t, "open", f.Open)
		if !open {
			f.Set(false, time.Now().Add(time.Minute), "role standby")
			eventually(t, "closed", func() bool { return !f.Open() })
		}
		f.Hold()
		f.Set(!open, time.Now().Add(time.Minute), "shutting down") // ignored
		time.Sleep(700 * time.Millisecond)                         // past the lease: ignored too
		cancel()
		<-done
		closed, cuts, _ := k.snapshot()
		if closed == open {
			t.Fatalf("open=%v: the kernel was changed after Hold", open)
		}
		// A closed fence cuts its draining sessions at exit: no one else would.
		if want := map[bool]int{true: 0, false: 1}[open]; len(cuts) != want {
			t.Fatalf("open=%v: %d cuts at exit; want %d", open, len(cuts), want)
		}
		state := map[bool]string{true: "open", false: "closed"}[open]
		if !strings.Contains(logs.String(), "fence left "+state+" as the last verdict had it") {
			t.Fatalf("open=%v: logs:\n%s", open, logs)
		}
	}
}

func TestKernelErrorsAreRetriedAndShown(t *testing.T) {
	f, k, logs := started(t, 0)
	k.mu.Lock()
	k.fail = errors.New("nftables: boom")
	k.mu.Unlock()
	f.Set(true, time.Now().Add(time.Minute), "primary")
	eventually(t, "error shown", func() bool { return f.Stats().LastError != "" })
	if f.Open() || f.Stats().State != "closed" {
		t.Fatalf("a failed open reported open: %+v", f.Stats())
	}
	k.mu.Lock()
	k.fail = nil
	k.mu.Unlock()
	// No further Set: the fence retries by itself.
	eventually(t, "retried", f.Open)
	// Open turns true a moment before the pass clears the error.
	eventually(t, "error cleared", func() bool { return f.Stats().LastError == "" })
	if strings.Count(logs.String(), "kernel update failed") < 1 {
		t.Fatalf("stats %+v, logs:\n%s", f.Stats(), logs)
	}
}

func TestRepairsAndCountsRejects(t *testing.T) {
	f, k, logs := started(t, time.Hour)
	set := func(rejected uint64, tampered bool) {
		k.mu.Lock()
		k.rejected, k.tampered = rejected, tampered
		k.mu.Unlock()
	}
	pass := func() {
		n := f.Stats().Repairs
		reason := time.Now().String()
		f.Set(false, time.Now().Add(time.Minute), reason)
		eventually(t, "pass", func() bool { return f.Stats().Reason == reason })
		_ = n
	}
	set(5, false)
	pass()
	set(7, false)
	pass()
	if got := f.Stats().Rejected; got != 7 {
		t.Fatalf("rejected %d; want 7", got)
	}
	set(3, true) // someone rewrote the rules: their 3 are new, and the rules are written anew
	pass()
	if st := f.Stats(); st.Rejected != 10 || st.Repairs != 1 {
		t.Fatalf("stats %+v; want 10 rejected, 1 repair", st)
	}
	set(2, false) // counted from zero since the rewrite
	pass()
	if st := f.Stats(); st.Rejected != 12 {
		t.Fatalf("stats %+v; want 12", st)
	}
	if !strings.Contains(logs.String(), "put back") {
		t.Fatalf("logs:\n%s", logs)
	}
}
