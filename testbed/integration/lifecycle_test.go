package integration

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestStartFailsClosed starts the agent binary beside IRIS down, hung,
// primary, and hung-then-primary, with balancers checking from the first
// moment its port accepts. Until a probe has said SUCCESS, no check
// passes.
func TestStartFailsClosed(t *testing.T) {
	l := itest.NewLoopback(t)
	for i, state := range []string{"down", "hang", "primary"} {
		t.Run("IRIS "+state, func(t *testing.T) {
			m := itest.StartMember(t, "start"+state, l.IP(1+i), state)
			start := time.Now()
			a := itest.StartAgent(t, m, faultAgent...)
			checks := &itest.BalancerChecks{HTTPAddr: a.HTTPAddr(), AgentAddr: a.AgentAddr()}
			checks.Start(10 * time.Second)
			if state == "primary" {
				itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
				time.Sleep(100 * time.Millisecond)
			} else {
				w := newRoleWatch(start)
				w.until(a.HTTPAddr(), 200*time.Millisecond, 3*time.Second)
				if w.role != "down" || w.roles[0] != "unknown" {
					t.Errorf("roles %v, want unknown then down", w.roles)
				}
				t.Logf("IRIS %s at start: roles %v, down %v after the agent was started", state, w.roles, w.down)
			}
			checks.Stop()
			h, ag := checks.HTTP(), checks.Agent()
			first, passed := itest.FirstAfter(h, start, true)
			if state != "primary" && passed {
				t.Fatalf("a check passed %v after start with IRIS %s", first, state)
			}
			if state == "primary" {
				t.Logf("IRIS primary at start: first passing check %v after the agent was started (first check %v after)", first, h[0].At.Sub(start))
			}
			for _, s := range append(h, ag...) {
				if s.Err != nil {
					t.Errorf("a check got no answer: %v", s.Err)
					break
				}
			}
		})
	}
	t.Run("IRIS hung, then primary", func(t *testing.T) {
		ip := l.IP(10)
		srv := itest.StartFaultServer(t, ip+":52773", nil)
		srv.Set(itest.HangAfterAccept)
		start := time.Now()
		startAgentAt(t, "hungstart", ip, srv.URL(), nil, faultAgent...)
		checks := &itest.BalancerChecks{HTTPAddr: ip + ":9797", AgentAddr: ip + ":9798"}
		checks.Start(10 * time.Second)
		time.Sleep(700 * time.Millisecond)
		role, reason, _ := agentStatus(ip + ":9797")
		t1 := time.Now()
		srv.Set(itest.Healthy)
		itest.WaitHTTP(t, "http://"+ip+":9797/primary", 200, 5*time.Second)
		checks.WaitPassed(t1, 3*time.Second)
		checks.Stop()
		if first, ok := itest.FirstAfter(checks.HTTP(), start, true); !ok || first < t1.Sub(start) {
			t.Fatalf("first pass %v (%v) after start; IRIS answered after %v", first, ok, t1.Sub(start))
		}
		if first, ok := itest.FirstAfter(checks.Agent(), start, true); ok && first < t1.Sub(start) {
			t.Fatalf("agent-check passed %v after start, before IRIS answered", first)
		}
		if role != "unknown" || !strings.Contains(reason, "starting") {
			t.Errorf("while the first probe hangs: role %s (%s), want unknown, starting", role, reason)
		}
		up, _ := itest.FirstAfter(checks.HTTP(), t1, true)
		t.Logf("IRIS hung at start: role %s (%s); routable %v after IRIS answered", role, reason, up)
	})
}

// TestSIGTERMDrains sends SIGTERM to the agent binary while balancers
// check: every check after the signal fails ("down ready #shutting down", 503)
// for --shutdown-delay, then the ports close and the agent exits 0. A
// second signal ends the delay at once.
func TestSIGTERMDrains(t *testing.T) {
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "term", l.IP(1), "primary")
	a := itest.StartAgent(t, m, append(faultAgent, "--shutdown-delay", "1s")...)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
	checks := &itest.BalancerChecks{HTTPAddr: a.HTTPAddr(), AgentAddr: a.AgentAddr()}
	checks.Start(10 * time.Second)
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	if err := a.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	line, err := askAgentCheck(a.AgentAddr(), "primary\n")
	code, body, herr := itest.HTTPGet("http://"+a.HTTPAddr()+"/primary", time.Second)
	exit := a.Proc.Wait(5 * time.Second)
	exited := time.Since(t0)
	checks.Stop()
	if err != nil || line != "down ready #shutting down" {
		t.Errorf("agent-check during the delay: %q %v", line, err)
	}
	if herr != nil || code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("HTTP during the delay: %d %q %v", code, body, herr)
	}
	if exit != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", exit)
	}
	if exited < 900*time.Millisecond || exited > 4*time.Second {
		t.Errorf("exited %v after SIGTERM with --shutdown-delay 1s", exited)
	}
	// Nothing passes after the signal reached the agent (allow 20 ms for
	// the signal to be delivered and handled).
	for _, s := range append(checks.HTTP(), checks.Agent()...) {
		if s.At.After(t0.Add(20*time.Millisecond)) && s.OK {
			t.Fatalf("a check passed %v after SIGTERM", s.At.Sub(t0))
		}
	}
	firstFail, _ := itest.FirstAfter(checks.HTTP(), t0, false)
	t.Logf("SIGTERM: checks fail from %v after the signal, agent exited 0 after %v", firstFail, exited)

	// A second signal during the delay stops the agent at once.
	m2 := itest.StartMember(t, "term2", l.IP(2), "primary")
	a2 := itest.StartAgent(t, m2, append(faultAgent, "--shutdown-delay", "30s")...)
	itest.WaitHTTP(t, "http://"+a2.HTTPAddr()+"/primary", 200, 5*time.Second)
	_ = a2.Proc.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	t1 := time.Now()
	_ = a2.Proc.Signal(syscall.SIGTERM)
	if exit := a2.Proc.Wait(5 * time.Second); exit != 0 || time.Since(t1) > 2*time.Second {
		t.Fatalf("second SIGTERM: exit %d after %v", exit, time.Since(t1))
	}
}

// TestSIGKILLAndRestart kills the agent without warning and starts it
// again on the same ports at once: it binds, fails closed, and is routable
// again after its first good probe.
func TestSIGKILLAndRestart(t *testing.T) {
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "kill", l.IP(1), "primary")
	a := itest.StartAgent(t, m, faultAgent...)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
	checks := &itest.BalancerChecks{HTTPAddr: a.HTTPAddr(), AgentAddr: a.AgentAddr()}
	checks.Start(10 * time.Second)
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	a.Proc.Kill()
	a2 := itest.StartAgent(t, m, faultAgent...)
	itest.WaitHTTP(t, "http://"+a2.HTTPAddr()+"/primary", 200, 5*time.Second)
	up := time.Since(t0)
	checks.Stop()
	refused := 0
	for _, s := range checks.HTTP() {
		if s.At.After(t0) && s.Err != nil {
			refused++
		}
	}
	if up > 3*time.Second {
		t.Errorf("routable again %v after SIGKILL and restart", up)
	}
	t.Logf("SIGKILL and restart: routable again %v after the kill (%d HTTP checks refused meanwhile)", up, refused)
}

// TestNoDiskNeeded runs the agent with a read-only root filesystem (a
// private mount namespace), and with stdout and stderr on /dev/full (every
// write fails with ENOSPC), through role changes: it writes nothing to
// disk, so neither stops it.
func TestNoDiskNeeded(t *testing.T) {
	itest.RequireRoot(t, "mount namespace")
	unshare := itest.RequireTool(t, "unshare")
	bin, _ := itest.Binaries(t)
	l := itest.NewLoopback(t)
	cases := []struct {
		name string
		wrap func(argv []string) []string
	}{
		{"read-only root, stderr on /dev/full", func(argv []string) []string {
			return append([]string{unshare, "--mount", "--propagation", "private", "/bin/sh", "-c",
				`mount -o remount,bind,ro / || exit 97; if touch /rw-check-$$ 2>/dev/null; then rm -f /rw-check-$$; exit 98; fi; exec "$@"`, "sh"}, argv...)
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := itest.StartMember(t, "ro", l.IP(1+i), "primary")
			argv := c.wrap([]string{bin, "serve", "--member", "ro", "--mirror-status-url", "http://" + m.WebAddr() + "/csp/mirror_status.cxw",
				"--superserver", m.SuperServerAddr(), "--http-listen", m.IP + ":9797", "--agent-listen", m.IP + ":9798",
				"--log-level", "debug", "--interval", "100ms", "--timeout", "300ms"})
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer full.Close()
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdout, cmd.Stderr = full, full
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-done }()
			url := "http://" + m.IP + ":9797/primary"
			itest.WaitHTTP(t, url, 200, 5*time.Second)
			// Role changes are logged (to a full device): it keeps going.
			for _, step := range []struct {
				state string
				code  int
			}{{"backup", 503}, {"primary", 200}, {"down", 503}, {"primary", 200}} {
				m.Set(t, step.state)
				itest.WaitHTTP(t, url, step.code, 5*time.Second)
			}
			if line, err := askAgentCheck(m.IP+":9798", "primary\n"); err != nil || line != "up ready 100%" {
				t.Errorf("agent-check: %q %v", line, err)
			}
			select {
			case err := <-done:
				t.Fatalf("agent exited: %v", err)
			default:
			}
		})
	}
}

// askAgentCheck sends one agent-check line the way haproxy does (with the
// handshake) and returns the reply without its newline.
func askAgentCheck(addr, send string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	line, err := haproxyclient.Ask(ctx, addr, send)
	return strings.TrimSuffix(line, "\n"), err
}
