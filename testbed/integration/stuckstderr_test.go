package integration

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestStuckStderrChangesNothing runs the real agent with its stderr on a
// pipe that nobody reads, filled to the brim: a stuck journald, a Docker
// log driver that blocks, `| less`. The agent must still follow its member
// within one interval + timeout (+100 ms to observe it): demoted, then
// hung, on every interface (HTTP, agent-check, the gate), and stop within
// the shutdown delay + 1 s.
func TestStuckStderrChangesNothing(t *testing.T) {
	const (
		interval      = 100 * time.Millisecond
		timeout       = 200 * time.Millisecond
		shutdownDelay = time.Second
		bound         = interval + timeout + 100*time.Millisecond
	)
	ip := itest.NewLoopback(t).IP(1)
	m := itest.StartMember(t, "ap1a", ip, "primary")
	bin, _ := itest.Binaries(t)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // kept open and never read: writes block, they do not fail
	capacity, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096)
	if err != nil {
		t.Fatalf("F_SETPIPE_SZ: %v", err)
	}
	gateAddr := ip + ":1973"
	cmd := exec.Command(bin, "serve", "--member", m.Name,
		"--mirror-status-url", "http://"+m.WebAddr()+"/csp/mirror_status.cxw",
		"--superserver", m.SuperServerAddr(),
		"--http-listen", ip+":9797", "--agent-listen", ip+":9798",
		"--gate", gateAddr+"="+m.SuperServerAddr(),
		"--interval", interval.String(), "--timeout", timeout.String(),
		"--shutdown-delay", shutdownDelay.String(),
		"--log-level", "debug", "--log-format", "json")
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	httpURL := "http://" + ip + ":9797/primary"
	itest.WaitHTTP(t, httpURL, 200, 10*time.Second)
	waitGate(t, gateAddr, true, 10*time.Second)

	// Fill what is left of the pipe: the agent's next line blocks forever.
	fill := func() {
		t.Helper()
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if free := capacity - n; free > 0 {
			if _, err := w.Write([]byte(strings.Repeat("x", free))); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ); n != capacity {
			t.Fatalf("pipe holds %d of %d bytes", n, capacity)
		}
	}
	fill()

	// Demoted: every interface says so within the bound.
	start := time.Now()
	m.Set(t, "backup")
	waitAll(t, "demoted", start, bound, ip, httpURL, gateAddr)
	fill() // the agent may have got a line out before the first fill

	// Primary again, then hung.
	m.Set(t, "primary")
	itest.WaitHTTP(t, httpURL, 200, 10*time.Second)
	waitGate(t, gateAddr, true, 10*time.Second)
	fill()
	start = time.Now()
	m.Set(t, "hang")
	waitAll(t, "hung", start, bound, ip, httpURL, gateAddr)

	// SIGTERM: drained at once, gone within the shutdown delay + 1 s.
	start = time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		t.Logf("exit %v after SIGTERM (shutdown delay %v)", time.Since(start).Round(time.Millisecond), shutdownDelay)
	case <-time.After(shutdownDelay + time.Second):
		t.Fatalf("still running %v after SIGTERM with a stuck stderr", shutdownDelay+time.Second)
	}
}

// waitAll waits until /primary says 503, agent-check says down and the
// gate refuses, and fails if any took longer than bound after start (the
// time of each answer is when its question was asked).
func waitAll(t *testing.T, what string, start time.Time, bound time.Duration, ip, httpURL, gateAddr string) {
	t.Helper()
	deadline := start.Add(bound + 5*time.Second)
	var httpAt, agentAt, gateAt time.Time
	for (httpAt.IsZero() || agentAt.IsZero() || gateAt.IsZero()) && time.Now().Before(deadline) {
		if httpAt.IsZero() {
			asked := time.Now()
			if code, _, err := itest.HTTPGet(httpURL, time.Second); err == nil && code == 503 {
				httpAt = asked
			}
		}
		if agentAt.IsZero() {
			asked := time.Now()
			if line, err := itest.ReadLine(ip+":9798", "primary\n", time.Second); err == nil && strings.HasPrefix(line, "down") {
				agentAt = asked
			}
		}
		if gateAt.IsZero() {
			asked := time.Now()
			if !gateOpen(gateAddr) {
				gateAt = asked
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	for name, at := range map[string]time.Time{"/primary 503": httpAt, "agent-check down": agentAt, "gate refusing": gateAt} {
		switch {
		case at.IsZero():
			t.Errorf("%s: never %s", what, name)
		case at.Sub(start) > bound:
			t.Errorf("%s: %s after %v, want within %v", what, name, at.Sub(start).Round(time.Millisecond), bound)
		default:
			t.Logf("%s: %s after %v (bound %v)", what, name, at.Sub(start).Round(time.Millisecond), bound)
		}
	}
}

// gateOpen reports whether a connect to the gate is accepted and kept
// (a closed gate refuses, or resets what it had accepted).
func gateOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	time.Sleep(20 * time.Millisecond) // a closed gate resets what it accepted at once
	return itest.Connected(c)
}

func waitGate(t *testing.T, addr string, open bool, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for gateOpen(addr) != open {
		if time.Now().After(deadline) {
			t.Fatalf("gate %s open=%v not reached in %v", addr, open, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
