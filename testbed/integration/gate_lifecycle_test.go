package integration

import (
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestGateSIGTERM sends SIGTERM to the agent binary while sessions run
// through its gates: the gates close at once (new connections refused)
// and their sessions are cut, while the checks answer "shutting down" for
// --shutdown-delay; then the agent exits 0.
func TestGateSIGTERM(t *testing.T) {
	l := itest.NewLoopback(t)
	m, a := startGated(t, "gterm", l.IP(1), "--shutdown-delay", "1s")
	ssGate := m.SuperServerGateAddr()
	conns := openSessions(t, ssGate, 20)

	t0 := time.Now()
	if err := a.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	refusedC := make(chan time.Duration, 1)
	go func() { refusedC <- refusedAfter(t, ssGate, t0, 2*time.Second) }()
	cuts := waitEnded(conns, t0, 3*time.Second)
	refused := <-refusedC
	webRefused := isRefused(m.WebGateAddr())
	line, aerr := askAgentCheck(a.AgentAddr(), "primary\n")
	code, body, herr := itest.HTTPGet("http://"+a.HTTPAddr()+"/primary", time.Second)
	exit := a.Proc.Wait(5 * time.Second)
	exited := time.Since(t0)

	cl := itest.LatencyOf(cuts, t0, time.Time{})
	if cl.Errors > 0 || cl.Max > 500*time.Millisecond || refused > 500*time.Millisecond || !webRefused {
		t.Errorf("after SIGTERM: sessions %+v (%v), SuperServer gate refusing after %v, web gate refusing %v", cl, firstErr(cuts), refused, webRefused)
	}
	if aerr != nil || line != "down ready #shutting down" || herr != nil || code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("checks during the delay: agent-check %q %v, HTTP %d %q %v", line, aerr, code, body, herr)
	}
	if exit != 0 || exited < 900*time.Millisecond {
		t.Errorf("exit %d %v after SIGTERM with --shutdown-delay 1s", exit, exited)
	}
	t.Logf("SIGTERM with gates: gate refusing %s after the signal, 20 sessions cut %s after it (max %s), checks 'down ready #shutting down'/503 meanwhile, exit 0 after %s",
		ms(refused), ms(cl.P50), ms(cl.Max), ms(exited))
}

// waitEnded reads every session until it ends and returns, for each, how
// long after t0 that was; a session still open after d is an error.
func waitEnded(conns []net.Conn, t0 time.Time, d time.Duration) []itest.CheckSample {
	out := make([]itest.CheckSample, len(conns))
	done := make(chan struct{})
	for i, c := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = c.SetReadDeadline(t0.Add(d))
			_, err := io.Copy(io.Discard, c)
			out[i] = itest.CheckSample{At: t0, Took: time.Since(t0), OK: !isTimeout(err)}
			if isTimeout(err) {
				out[i].Err = err
			}
		}()
	}
	for range conns {
		<-done
	}
	return out
}

// TestGateSIGKILLAndRestart kills the agent while sessions run through its
// gates (the kernel closes them; their sockets stay on the gates' ports in
// FIN_WAIT while the clients hold theirs) and starts it again at once with
// the same gates: it binds them, and they forward again as soon as the
// member is seen primary.
func TestGateSIGKILLAndRestart(t *testing.T) {
	l := itest.NewLoopback(t)
	m, a := startGated(t, "gkill", l.IP(1))
	ssGate := m.SuperServerGateAddr()
	conns := openSessions(t, ssGate, 20) // the clients never close theirs

	t0 := time.Now()
	a.Proc.Kill()
	cuts := waitEnded(conns, t0, 2*time.Second)
	// The killed sessions' sockets linger on the gate's port (the clients
	// have not closed theirs): the new listener binds beside them.
	lingering := len(itest.Sockets(t, "connected", "src", ssGate))
	a2 := itest.StartAgent(t, m, gatedFlags(m)...)
	again := forwardingAfter(t, ssGate, t0, 5*time.Second)
	code, _, err := itest.HTTPGet("http://"+a2.HTTPAddr()+"/primary", time.Second)
	if a2.Proc.Exited() || err != nil || code != 200 {
		t.Fatalf("restarted agent: exited %v, /primary %d %v\n%s", a2.Proc.Exited(), code, err, itest.Tail(a2.Proc.Log, 10))
	}
	cl := itest.LatencyOf(cuts, t0, time.Time{})
	if cl.Errors > 0 || again > 3*time.Second {
		t.Errorf("SIGKILL: sessions %+v (%v); forwarding again %v after the kill", cl, firstErr(cuts), again)
	}
	if lingering == 0 {
		t.Errorf("no socket of the killed sessions left on the gate's port: the restart was not tried beside them")
	}
	t.Logf("SIGKILL with gates: the 20 sessions ended %s after the kill (the kernel closed them); restarted at once with %d of their sockets still closing (FIN_WAIT) on the gate's port, forwarding again %s after the kill",
		ms(cl.Max), lingering, ms(again))
}
