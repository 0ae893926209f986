package integration

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
	"github.com/irismirror/iris-mirror-agent/testbed/syncbuf"
)

// demoOutput collects a running demo's output for the test to search.
type demoOutput struct{ syncbuf.Buffer }

// waitFor waits until the output after offset from matches re, and returns
// when it was seen.
func (o *demoOutput) waitFor(t *testing.T, from int, re *regexp.Regexp, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if s := o.String(); len(s) > from && re.MatchString(s[from:]) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo output did not show %q within %v; output tail:\n%s", re, d, tailString(o.String(), 3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var haproxyPidRE = regexp.MustCompile(`haproxy \S+ \(pid (\d+)\)`)

// tookRE matches how the demo prints the time an action took: a Go
// duration rounded to the millisecond (850ms, 1.255s).
const tookRE = `[0-9.]+m?s`

// demoPatience bounds the waits for what the demo is sure to show: its
// agents poll every 250 ms and haproxy checks every 250 ms, so a change
// shows within a second on a quiet machine; a busy one gets far more.
// How fast a failover is belongs to the failover tests and benchmarks.
const demoPatience = 60 * time.Second

// routeRE matches the table line saying where haproxy sends a set's clients.
func routeRE(set, ip string, port int, member string) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta("clients → haproxy "+set+" "+ip+":"+strconv.Itoa(port)) + `\s+→\s+` + regexp.QuoteMeta(member))
}

// TestDemoKeysOnATerminal runs `irissim demo` as a person does: on a
// terminal, one key (no Enter) triggers a failover, which must show in the
// table; Ctrl-C stops it and no process is left behind.
func TestDemoKeysOnATerminal(t *testing.T) {
	itest.RequireTool(t, "haproxy")
	_, sim := itest.Binaries(t)
	ip := itest.NewLoopback(t).IP(1)
	cmd := exec.Command(sim, "demo", "--ip", ip)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	out := &demoOutput{}
	go io.Copy(out, tty) //nolint:errcheck // ends when the pty closes

	out.waitFor(t, 0, routeRE("AP1", ip, 19701, "ap1a"), demoPatience)
	pid := haproxyPID(t, out.String())
	if !strings.Contains(out.String(), "keys: f failover AP1") {
		t.Fatalf("a terminal should get single-key help; output:\n%s", tailString(out.String(), 2000))
	}

	mark := out.Len()
	pressed := time.Now()
	if _, err := tty.Write([]byte("f")); err != nil { // one key, no Enter
		t.Fatal(err)
	}
	seen := out.waitFor(t, mark, routeRE("AP1", ip, 19701, "ap1b"), demoPatience)
	t.Logf("key f: the table showed haproxy sending AP1 clients to ap1b %v after the key press", seen.Sub(pressed).Round(time.Millisecond))
	out.waitFor(t, mark, regexp.MustCompile(`haproxy sent AP1 clients to ap1b `+tookRE+` later`), demoPatience)
	if s := out.String()[mark:]; !routeRE("AP2", ip, 19702, "ap2a").MatchString(s) {
		t.Error("AP2 should still go to ap2a after a failover in AP1")
	}

	if _, err := tty.Write([]byte{3}); err != nil { // Ctrl-C, through the terminal's line discipline
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo exit after Ctrl-C: %v\n%s", err, tailString(out.String(), 1500))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not stop within 10s of Ctrl-C")
	}
	time.Sleep(100 * time.Millisecond) // let the pty drain
	if !strings.Contains(out.String(), "demo stopped: haproxy (pid "+strconv.Itoa(pid)+") stopped") {
		t.Errorf("no clean stop message; tail:\n%s", tailString(out.String(), 500))
	}
	if !strings.Contains(out.String(), "\x1b[?25h") {
		t.Error("the cursor was not shown again")
	}
	requireGone(t, pid)
}

// TestDemoLineCommands drives the demo as a script or CI does: stdin is a
// pipe of line commands, stdout a plain log of frames, SIGINT stops it.
// It walks the seed's scenarios through the demo's own haproxy.
func TestDemoLineCommands(t *testing.T) {
	itest.RequireTool(t, "haproxy")
	_, sim := itest.Binaries(t)
	ip := itest.NewLoopback(t).IP(1)
	cmd := exec.Command(sim, "demo", "--ip", ip, "--ports", "21000")
	out := &demoOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	out.waitFor(t, 0, routeRE("AP1", ip, 21001, "ap1a"), demoPatience)
	pid := haproxyPID(t, out.String())
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("output to a pipe must carry no terminal escapes")
	}
	checkDocumentedScreen(t, out.String())
	steps := []struct {
		cmd  string
		want *regexp.Regexp
	}{
		{"s", regexp.MustCompile(`haproxy sent AP1 clients to ap1b ` + tookRE + ` later`)},                // ap1a stopped, ap1b promoted
		{"set ap1b down", regexp.MustCompile(`haproxy refused AP1 clients at once ` + tookRE + ` later`)}, // both stopped
		{"set ap1a primary", regexp.MustCompile(`haproxy sent AP1 clients to ap1a ` + tookRE + ` later`)}, // ap1a back
		{"bogus", regexp.MustCompile(`unknown command "bogus"`)},                                          // a clear message, nothing breaks
		{"g", regexp.MustCompile(`haproxy sent AP2 clients to ap2b ` + tookRE + ` later`)},                // AP2 on its own
		{"r", regexp.MustCompile(`haproxy sent AP1 clients to ap1a ` + tookRE + ` later`)},                // back to the start
	}
	for _, st := range steps {
		mark := out.Len()
		if _, err := io.WriteString(stdin, st.cmd+"\n"); err != nil {
			t.Fatal(err)
		}
		out.waitFor(t, mark, st.want, demoPatience)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo exit after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not stop within 10s of SIGINT")
	}
	requireGone(t, pid)
}

// TestDemoWithoutHAProxy: with no haproxy the demo says so and still shows
// the agents' views; --duration ends it on its own.
func TestDemoWithoutHAProxy(t *testing.T) {
	_, sim := itest.Binaries(t)
	ip := itest.NewLoopback(t).IP(1)
	cmd := exec.Command(sim, "demo", "--ip", ip, "--haproxy", "none", "--duration", "3s")
	cmd.Stdin = strings.NewReader("f\n")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, b)
	}
	s := string(b)
	for _, want := range []string{
		"no haproxy (--haproxy none): showing the agents' views only",
		"ap1b's agent said primary",
		"demo stopped: 4 members and agents closed",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, tailString(s, 2000))
		}
	}
	if !regexp.MustCompile(`AP1\s+ap1b\s+primary\s+primary\s+yes`).MatchString(s) {
		t.Errorf("the table should show ap1b primary and routable:\n%s", tailString(s, 2000))
	}

	// A haproxy that cannot be run is reported, not fatal.
	cmd = exec.Command(sim, "demo", "--ip", ip, "--haproxy", filepath.Join(t.TempDir(), "no-haproxy"), "--duration", "500ms")
	cmd.Stdin = strings.NewReader("")
	b, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "no haproxy: ") || !strings.Contains(string(b), "showing the agents' views only") {
		t.Fatalf("a missing haproxy should be reported and the demo run on: %v\n%s", err, b)
	}
	// Bad flags are one clear line.
	b, err = exec.Command(sim, "demo", "--ip", "10.0.0.1").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(b), "invalid --ip") {
		t.Fatalf("--ip 10.0.0.1: %v %s", err, b)
	}
}

func haproxyPID(t *testing.T, out string) int {
	t.Helper()
	m := haproxyPidRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no haproxy pid in the demo's header:\n%s", tailString(out, 2000))
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// requireGone checks that haproxy and anything in its process group ended.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := groupMembers(pid)
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind in haproxy's group %d: %v", pid, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// groupMembers lists the pids whose process group is pgid (from /proc).
func groupMembers(pgid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces: split after ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
				out = append(out, pid)
			}
		}
	}
	return out
}

// checkDocumentedScreen keeps the sample screen in docs/simulator.md (a
// capture of a real run, stdin a pipe) the demo's: its fixed lines, the
// table's head and the help lines, must be what the demo prints.
func checkDocumentedScreen(t *testing.T, out string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(itest.Root(t), "docs", "simulator.md"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, " set  member ") || strings.HasPrefix(line, " commands, one per line:") {
			fixed++
			if !strings.Contains(out, line) {
				t.Errorf("docs/simulator.md shows %q, which the demo no longer prints: capture a new screen", line)
			}
		}
	}
	if fixed != 2 {
		t.Errorf("docs/simulator.md: %d of the sample screen's fixed lines found, want 2", fixed)
	}
}
