package integration

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestFenceFollowsTheRole: a backup's kernel refuses the client (a reset)
// on both fenced ports while loopback and the agent's own probes reach
// IRIS; promoted, the member serves the client; demoted, new connections
// are refused and established sessions cut within interval + timeout +
// drain (and not before the drain). Reaction times are logged.
func TestFenceFollowsTheRole(t *testing.T) {
	for _, drain := range []time.Duration{0, 400 * time.Millisecond} {
		t.Run("drain "+drain.String(), func(t *testing.T) {
			l := newFenceLab(t, "backup")
			l.start("--fence-drain", drain.String())
			st := l.waitFence("closed", 5*time.Second)
			// The agent's probes (loopback) reach IRIS behind the fence.
			if until(time.Now(), 5*time.Second, func() bool { st, _ = l.status(); return st.Role == "standby" }) < 0 {
				t.Fatalf("role %q behind the fence: the agent's probes (loopback) must reach IRIS", st.Role)
			}
			for _, addr := range []string{l.superServer, l.web} {
				if err := who(l.inC, addr); !refused(err) {
					t.Fatalf("backup: client to %s: %v; want refused (reset)", addr, err)
				}
			}
			if err := who(l.inM, "127.0.0.1:1972"); err != nil {
				t.Fatalf("backup: loopback to the SuperServer: %v", err)
			}
			if err := who(l.inM, l.superServer); err != nil {
				t.Fatalf("backup: the member's own address, from the member: %v", err)
			}

			t0 := time.Now()
			l.set("primary")
			opened := until(t0, 5*time.Second, func() bool { return who(l.inC, l.superServer) == nil })
			if opened < 0 || opened > fenceInterval+fenceTimeout {
				t.Fatalf("promoted: client served after %v; want within interval + timeout (%v)", opened, fenceInterval+fenceTimeout)
			}
			conns := l.sessions(10)

			t1 := time.Now()
			l.set("backup")
			refusedC := make(chan time.Duration, 1)
			go func() {
				refusedC <- until(t1, 5*time.Second, func() bool { return refused(who(l.inC, l.superServer)) })
			}()
			first, last := cutTimes(conns, t1, 5*time.Second)
			refusedAt := <-refusedC
			bound := fenceInterval + fenceTimeout + drain
			if refusedAt < 0 || refusedAt > fenceInterval+fenceTimeout {
				t.Errorf("demoted: new connections refused after %v; want within interval + timeout (%v)", refusedAt, fenceInterval+fenceTimeout)
			}
			if last < 0 || last > bound || first < drain {
				t.Errorf("demoted: sessions cut %v..%v after; want all within interval + timeout + drain (%v), none before the drain (%v)", first, last, bound, drain)
			}
			// The pass that cuts counts the sessions just after the kernel
			// destroyed them: the client can see the reset a moment before
			// /status does.
			until(time.Now(), 5*time.Second, func() bool { st = l.waitFence("closed", time.Second); return st.Fence.Cut >= 10 })
			if st.Fence.Cut < 10 || st.Fence.Rejected < 1 {
				t.Errorf("status: %+v", st.Fence)
			}
			fams := itest.ScrapeMetricsVia(t, l.http, "http://127.0.0.1:9797/metrics")
			for name, want := range map[string]float64{"iris_mirror_agent_fence_open": 0, "iris_mirror_agent_fence_sessions_cut_total": 10} {
				if v, ok := itest.MetricValue(fams, name, nil); !ok || v < want || (want == 0 && v != 0) {
					t.Errorf("%s = %v (%v); want %v", name, v, ok, want)
				}
			}
			if v, ok := itest.MetricValue(fams, "iris_mirror_agent_fence_rejected_total", nil); !ok || v < 1 {
				t.Errorf("fence_rejected_total = %v (%v)", v, ok)
			}
			t.Logf("fence at --interval %v --timeout %v --fence-drain %v: open %v after promotion; after demotion new connections refused %v, 10 sessions cut %v..%v",
				fenceInterval, fenceTimeout, drain, ms(opened), ms(refusedAt), ms(first), ms(last))
		})
	}
}

// TestFenceClosedBeforeTheFirstProbe: the member is primary and its fence
// open before the agent starts (no table); by the time the agent's first
// probe arrives, the kernel already refuses the client.
func TestFenceClosedBeforeTheFirstProbe(t *testing.T) {
	l := newFenceLab(t, "primary")
	if err := who(l.inC, l.superServer); err != nil {
		t.Fatalf("before the agent: %v", err)
	}
	ln, err := l.inM.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	firstProbe := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case firstProbe <- who(l.inC, l.superServer):
		default:
		}
		http.Error(w, "hold on", http.StatusServiceUnavailable)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	l.mirrorStatus = "http://127.0.0.1:8080/csp/mirror_status.cxw"
	l.start()
	select {
	case err := <-firstProbe:
		if !refused(err) {
			t.Fatalf("at the agent's first probe the client got %v; want refused", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no probe")
	}
}

// TestFenceAcrossAgentRestarts: SIGKILL on a backup leaves the fence
// closed; SIGTERM on a primary leaves it open and cuts no session, and the
// restarted agent keeps them (closed at start, never cut without a
// verdict) and opens again after its first round; SIGTERM on a backup
// leaves it closed. Each exit says in the log how it left the fence.
func TestFenceAcrossAgentRestarts(t *testing.T) {
	l := newFenceLab(t, "backup")
	a := l.start()
	l.waitFence("closed", 5*time.Second)
	if err := a.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait(5 * time.Second)
	if err := who(l.inC, l.superServer); !refused(err) {
		t.Fatalf("after SIGKILL on a backup: %v; want still refused", err)
	}

	a = l.start()
	l.set("primary")
	l.waitFence("open", 5*time.Second)
	conns := l.sessions(5)
	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.Wait(5 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if log := l.agentLog(); !strings.Contains(log, "fence left open as the last verdict had it") {
		t.Fatalf("log does not say how the fence was left:\n%s", log)
	}
	if err := who(l.inC, l.superServer); err != nil {
		t.Fatalf("after SIGTERM on a primary: %v; want the fence left open", err)
	}

	l.start()
	reopened := until(l.agentStarting, 5*time.Second, func() bool { return who(l.inC, l.superServer) == nil })
	for i, c := range conns {
		if !alive(c) {
			t.Fatalf("session %d cut by an agent restarting on the primary", i)
		}
	}
	if reopened < 0 {
		t.Fatal("not open again after the restart")
	}
	st := l.waitFence("open", time.Second)
	if st.Fence.Cut != 0 {
		t.Fatalf("restart on a primary cut %d sessions", st.Fence.Cut)
	}

	l.set("backup")
	l.waitFence("closed", 5*time.Second)
	if err := l.agent.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	l.agent.Wait(5 * time.Second)
	if log := l.agentLog(); !strings.Contains(log, "fence left closed as the last verdict had it") {
		t.Fatalf("log:\n%s", log)
	}
	if err := who(l.inC, l.superServer); !refused(err) {
		t.Fatalf("after SIGTERM on a backup: %v; want still refused", err)
	}
	t.Logf("agent restarted on the primary: the client served again %v after the start, sessions kept", ms(reopened))
}

// TestFencePutsItselfBack: a running agent undoes every change by hand at
// its next round: nft flush ruleset and `fence open` on a backup, `fence
// close` on a primary.
func TestFencePutsItselfBack(t *testing.T) {
	l := newFenceLab(t, "backup")
	l.start()
	l.waitFence("closed", 5*time.Second)
	bound := fenceInterval + fenceTimeout
	var repairs uint64
	undo := func(what string, change func() error, wantRefused bool) {
		t.Helper()
		if err := change(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t0 := time.Now()
		back := until(t0, 5*time.Second, func() bool { return refused(who(l.inC, l.superServer)) == wantRefused })
		if back < 0 || back > bound {
			t.Errorf("%s: put back after %v; want within interval + timeout (%v)", what, back, bound)
		}
		t.Logf("%s: put back after %s", what, ms(back))
		// The pass that puts the kernel right counts the repair just
		// after its write: the client can see the fix a moment before
		// /status does.
		repairs++
		var st fenceStatus
		if until(t0, 5*time.Second, func() bool { st, _ = l.status(); return st.Fence.Repairs >= repairs }) < 0 {
			t.Errorf("%s: repairs %d; want %d", what, st.Fence.Repairs, repairs)
		}
	}
	undo("nft flush ruleset", func() error { _, err := l.nft("flush", "ruleset"); return err }, true)
	undo("fence open by hand", func() error { _, err := l.fenceCmd("open"); return err }, true)
	l.set("primary")
	l.waitFence("open", 5*time.Second)
	undo("fence close by hand", func() error { _, err := l.fenceCmd("close", "--fence", "1972"); return err }, false)
}

// TestFenceCommand drives `iris-mirror-agent fence` with no agent: it
// reads and writes the kernel itself.
func TestFenceCommand(t *testing.T) {
	l := newFenceLab(t, "primary")
	out, err := l.fenceCmd("status")
	if err != nil || !strings.Contains(out, "fence: open") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	kept := l.sessions(3)
	if out, err = l.fenceCmd("close", "--fence", "1972,52773", "--fence-allow", "10.99.0.0/16"); err != nil {
		t.Fatalf("close: %v\n%s", err, out)
	}
	if err := who(l.inC, l.superServer); !refused(err) {
		t.Fatalf("after close: %v", err)
	}
	for _, c := range kept {
		if !alive(c) {
			t.Fatal("close without --cut cut a session")
		}
	}
	out, err = l.fenceCmd("status", "--fence", "1972,52773", "--fence-allow", "10.99.0.0/16")
	if err != nil || !strings.Contains(out, "fence: closed: new TCP connections to port(s) 1972, 52773 refused except from loopback, 10.99.0.0/16; 1 refused") ||
		strings.Contains(out, "differs") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if out, _ = l.fenceCmd("status", "--fence", "1972"); !strings.Contains(out, "differs from --fence/--fence-allow") {
		t.Fatalf("status against other ports:\n%s", out)
	}
	if out, err = l.fenceCmd("--fence", "1972,52773", "close", "--cut"); err != nil || !strings.Contains(out, "cut 3 sessions") {
		t.Fatalf("close --cut: %v\n%s", err, out)
	}
	for _, c := range kept {
		if alive(c) {
			t.Fatal("close --cut left a session")
		}
	}
	if out, err = l.fenceCmd("open"); err != nil || !strings.Contains(out, "fence: open") {
		t.Fatalf("open: %v\n%s", err, out)
	}
	if err := who(l.inC, l.superServer); err != nil {
		t.Fatalf("after open: %v", err)
	}
	for _, bad := range [][]string{{"close"}, {"frob"}, {}, {"open", "--cut"}, {"status", "--fence", "0"}, {"close", "--fence", "1972", "extra"}} {
		out, err := l.fenceCmd(bad...)
		if code, _ := exitCode(err); code != 2 || strings.Count(out, "\n") != 1 {
			t.Errorf("fence %v: exit %d, output %q; want 2 and one line", bad, code, out)
		}
	}
}

// TestFenceAsUnprivilegedUser: the agent as an unprivileged user with
// CAP_NET_ADMIN as its only (ambient) capability, as the systemd drop-in
// runs it, closes, opens and cuts.
func TestFenceAsUnprivilegedUser(t *testing.T) {
	l := newFenceLab(t, "backup")
	l.wrap = []string{itest.RequireTool(t, "setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin", "--bounding-set=-all,+net_admin", "--"}
	l.start()
	l.waitFence("closed", 5*time.Second)
	if err := who(l.inC, l.superServer); !refused(err) {
		t.Fatalf("backup: %v; want refused", err)
	}
	l.set("primary")
	l.waitFence("open", 5*time.Second)
	conns := l.sessions(3)
	t0 := time.Now()
	l.set("backup")
	if _, last := cutTimes(conns, t0, 5*time.Second); last < 0 || last > fenceInterval+fenceTimeout {
		t.Fatalf("sessions cut after %v; want within interval + timeout", last)
	}
}

// TestFenceLabClientIsRemote guards the lab itself: the client reaches
// the member over the veth pair, from its own address, not over a
// loopback the fence lets through.
func TestFenceLabClientIsRemote(t *testing.T) {
	l := newFenceLab(t, "primary")
	ln, err := l.inM.Listen("tcp", ":7777")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			got <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	c, err := l.inC.DialWith(t.Context(), nil, "tcp", l.p.MemberIP+":7777")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if a := <-got; !strings.HasPrefix(a, l.p.AgentIP+":") {
		t.Fatalf("client arrives from %s; want %s", a, l.p.AgentIP)
	}
}
