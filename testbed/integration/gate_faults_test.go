package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/gate"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// gateFaultRow is one line of the gate's fault table.
type gateFaultRow struct {
	fault, saw, waited, refused, again string
	httpP99, agentP99                  time.Duration
}

// gateConnectTimeout is the agents' --gate-connect-timeout here (the
// default): a client the gate left waiting on a TARGET that refuses would
// wait this long; one reset at once takes far less, on a busy machine too.
const gateConnectTimeout = time.Second

// checked runs fn while balancers check the agent, and returns the
// checks' p99; a check without an answer fails the test.
func checked(t *testing.T, a *itest.Agent, fn func()) (httpP99, agentP99 time.Duration) {
	t.Helper()
	checks := &itest.BalancerChecks{HTTPAddr: a.HTTPAddr(), AgentAddr: a.AgentAddr()}
	checks.Start(30 * time.Second)
	t0 := time.Now()
	fn()
	checks.Stop()
	hl, al := itest.LatencyOf(checks.HTTP(), t0, time.Time{}), itest.LatencyOf(checks.Agent(), t0, time.Time{})
	if hl.Errors+al.Errors > 0 {
		t.Errorf("%d HTTP and %d agent-checks got no answer (%v)", hl.Errors, al.Errors, firstErr(append(checks.HTTP(), checks.Agent()...)))
	}
	if bad := fromMemory(hl, al, faultTimeout); bad != "" {
		t.Error(bad)
	}
	return hl.P99, al.P99
}

// openSessions opens k sessions through a gate in front of a simulated
// SuperServer, each answered once (so the gate has admitted it).
func openSessions(t *testing.T, addr string, k int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range k {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, "who\n"); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasSuffix(line, " primary\n") {
			t.Fatalf("session through %s: %q %v", addr, line, err)
		}
		_ = c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	return conns
}

// askAndWait sends a line on every session and returns, for each, how
// long after t0 its read ended; an answer, or no end within d, is an
// error sample.
func askAndWait(conns []net.Conn, t0 time.Time, d time.Duration) []itest.CheckSample {
	out := make([]itest.CheckSample, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.WriteString(c, "who\n")
			_ = c.SetReadDeadline(t0.Add(d))
			n, err := c.Read(make([]byte, 64))
			out[i] = itest.CheckSample{At: t0, Took: time.Since(t0), OK: true}
			switch {
			case isTimeout(err):
				out[i].OK, out[i].Err = false, errors.New("still waiting")
			case n > 0:
				out[i].OK, out[i].Err = false, errors.New("answered")
			}
		}()
	}
	wg.Wait()
	return out
}

// refusedAfter polls addr until a connect is refused and returns how long
// after t0 that was (a connection accepted meanwhile is closed at once).
func refusedAfter(t *testing.T, addr string, t0 time.Time, d time.Duration) time.Duration {
	for time.Since(t0) < d {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return time.Since(t0)
		}
		if c != nil {
			c.Close()
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Errorf("%s still not refusing %v after the fault began", addr, d) // may run off the test's goroutine
	return d
}

// forwardingAfter waits until a session through the SuperServer gate
// addr is answered again and returns how long after t0 that was.
func forwardingAfter(t *testing.T, addr string, t0 time.Time, d time.Duration) time.Duration {
	t.Helper()
	for time.Since(t0) < d {
		if _, state, err := simWho(addr); err == nil && state == "primary" {
			return time.Since(t0)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s not forwarding %v after the fault ended", addr, d)
	return 0
}

func simWho(addr string) (string, string, error) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := io.WriteString(c, "who\n"); err != nil {
		return "", "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	name, state, _ := strings.Cut(strings.TrimSpace(line), " ")
	return name, state, err
}

// gatedFlags are the fault tests' agent settings with both gates of m and
// extra settings last.
func gatedFlags(m *itest.Member, extra ...string) []string {
	return append(append(append([]string{}, faultAgent...), itest.GateFlags(m)...), extra...)
}

// startGated runs a primary member and its agent with both gates, and
// waits until the SuperServer gate forwards.
func startGated(t *testing.T, name, ip string, extra ...string) (*itest.Member, *itest.Agent) {
	t.Helper()
	m := itest.StartMember(t, name, ip, "primary")
	a := itest.StartAgent(t, m, gatedFlags(m, extra...)...)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
	forwardingAfter(t, m.SuperServerGateAddr(), time.Now(), 5*time.Second)
	return m, a
}

// TestGateIRISFaults runs IRIS faults as a client of the agent's gates
// sees them: the member hangs while sessions are open (the gate cuts them
// when the member stops being routable, after --gate-drain), the member
// goes down while the gate is open, TARGET refuses, TARGET resets mid-
// session. Balancers check the agent meanwhile.
func TestGateIRISFaults(t *testing.T) {
	l := itest.NewLoopback(t)
	var rows []gateFaultRow

	for i, drain := range []time.Duration{0, 500 * time.Millisecond} {
		m, a := startGated(t, fmt.Sprintf("ghang%d", i), l.IP(1+i), "--gate-drain", drain.String())
		ssGate := m.SuperServerGateAddr()
		conns := openSessions(t, ssGate, 20)
		var row gateFaultRow
		row.httpP99, row.agentP99 = checked(t, a, func() {
			t0 := time.Now()
			m.Set(t, "hang")
			var httpWait time.Duration
			var httpErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _, httpErr = itest.HTTPGet("http://"+m.WebGateAddr()+"/csp/mirrorns/api/get", 10*time.Second)
				httpWait = time.Since(t0)
			}()
			refusedC := make(chan time.Duration, 1)
			go func() { refusedC <- refusedAfter(t, ssGate, t0, 5*time.Second) }()
			waits := askAndWait(conns, t0, 10*time.Second)
			refused := <-refusedC
			<-done
			wl := itest.LatencyOf(waits, t0, time.Time{})
			if wl.Errors > 0 {
				t.Errorf("hang, drain %v: %d of %d sessions not cut (%v)", drain, wl.Errors, len(waits), firstErr(waits))
			}
			if httpErr == nil {
				t.Errorf("hang, drain %v: the HTTP request through the gate got an answer from a hung member", drain)
			}
			// Not routable within interval + timeout (the fault table),
			// then cut after the drain.
			if wl.Max > 1500*time.Millisecond+drain || refused > 1500*time.Millisecond {
				t.Errorf("hang, drain %v: sessions cut after %v, gate refusing after %v", drain, wl.Max, refused)
			}
			if drain > 0 && wl.P50 < refused+drain-100*time.Millisecond {
				t.Errorf("hang, drain %v: sessions cut %v after the hang, gate closed after %v: the drain was not kept", drain, wl.P50, refused)
			}
			t1 := time.Now()
			m.Set(t, "primary")
			again := forwardingAfter(t, ssGate, t1, 5*time.Second)
			row = gateFaultRow{
				fault: fmt.Sprintf("member hangs with 20 sessions open (`--gate-drain %v`)", drain),
				saw: fmt.Sprintf("each session, waiting on the hung SuperServer, reset; an HTTP request through the web gate reset after %s (%v)",
					ms(httpWait), errText(httpErr)),
				waited:  fmt.Sprintf("%s p50, %s max", ms(wl.P50), ms(wl.Max)),
				refused: ms(refused),
				again:   ms(again),
			}
		})
		rows = append(rows, row)
	}

	{
		m, a := startGated(t, "gdown", l.IP(5))
		ssGate := m.SuperServerGateAddr()
		conns := openSessions(t, ssGate, 20)
		var row gateFaultRow
		row.httpP99, row.agentP99 = checked(t, a, func() {
			t0 := time.Now()
			m.Set(t, "down") // both ports closed: sessions ended, connects refused
			waits := askAndWait(conns, t0, 5*time.Second)
			// Until the agent notices, the gate is open and TARGET refuses:
			// each client is closed at once.
			var window []itest.CheckSample
			var refused time.Duration
			for time.Since(t0) < 5*time.Second {
				c := endsWithin(func() (net.Conn, error) { return net.DialTimeout("tcp", ssGate, time.Second) }, time.Second)
				if errors.Is(c.Err, syscall.ECONNREFUSED) || (c.OK && time.Since(t0) > 100*time.Millisecond && isRefused(ssGate)) {
					refused = time.Since(t0)
					break
				}
				window = append(window, c)
				time.Sleep(2 * time.Millisecond)
			}
			wl, el := itest.LatencyOf(waits, t0, time.Time{}), itest.LatencyOf(window, t0, time.Time{})
			if wl.Errors+el.Errors > 0 || el.P99 >= gateConnectTimeout || refused == 0 || refused > 1500*time.Millisecond {
				t.Errorf("member down: sessions %+v, connects before the gate closed %+v (%v), refused after %v", wl, el, firstErr(window), refused)
			}
			t1 := time.Now()
			m.Set(t, "primary")
			again := forwardingAfter(t, ssGate, t1, 5*time.Second)
			row = gateFaultRow{
				fault: "member down (both ports refuse) while the gate is open",
				saw: fmt.Sprintf("open sessions ended when the member closed them (%s max); %d connects before the agent noticed: TARGET refused, each client closed %s after connecting (p99)",
					ms(wl.Max), len(window), ms(el.P99)),
				waited: ms(el.Max) + " max", refused: ms(refused), again: ms(again),
			}
		})
		rows = append(rows, row)
	}

	{
		ip := l.IP(6)
		m := itest.StartMember(t, "gtarget", ip, "primary")
		dead := ip + ":52798" // nobody listens
		resetter := itest.StartFaultServer(t, ip+":52796", nil)
		resetter.Set(itest.ResetMidResponse)
		deadGate, resetGate := ip+":52799", ip+":52797"
		a := itest.StartAgent(t, m, append(append([]string{}, faultAgent...), "--gate", deadGate+"="+dead, "--gate", resetGate+"="+resetter.Addr)...)
		itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
		itest.WaitGate(t, a.HTTPAddr(), deadGate, 5*time.Second, "open", func(g gate.Stats) bool { return g.State == "open" })
		itest.WaitGate(t, a.HTTPAddr(), resetGate, 5*time.Second, "open", func(g gate.Stats) bool { return g.State == "open" })

		var row gateFaultRow
		row.httpP99, row.agentP99 = checked(t, a, func() {
			var ends []itest.CheckSample
			for range 200 {
				ends = append(ends, endsWithin(func() (net.Conn, error) { return net.DialTimeout("tcp", deadGate, time.Second) }, 2*time.Second))
			}
			el := itest.LatencyOf(ends, time.Time{}, time.Time{})
			st := itest.GateOf(t, a.HTTPAddr(), deadGate)
			warned := strings.Count(readLog(a.Proc), `"message":"gate target failed: client reset"`)
			// A refusing TARGET closes the gate until the next verdict
			// (and asks for a probe round), which reopens it while the
			// member stays primary: each client is either reset after a
			// failed dial or refused by the closed gate, never left
			// waiting.
			if el.Errors > 0 || el.P99 >= gateConnectTimeout || st.DialFailures < 1 || warned != 1 {
				t.Errorf("TARGET refusing: %+v (%v), %d dial failures, %d warn lines", el, firstErr(ends), st.DialFailures, warned)
			}
			row = gateFaultRow{fault: "TARGET refuses while the gate is open (200 connects)",
				saw: fmt.Sprintf("each client reset after a failed dial (target_dial_failures %d) or refused by the gate, closed until the next verdict; one warn line in the log",
					st.DialFailures),
				waited: fmt.Sprintf("%s p99, %s max", ms(el.P99), ms(el.Max)), refused: "stays open (member primary)", again: "at once"}
		})
		rows = append(rows, row)

		row = gateFaultRow{}
		row.httpP99, row.agentP99 = checked(t, a, func() {
			var took []itest.CheckSample
			partial, resets := 0, 0
			for range 50 {
				c, err := net.DialTimeout("tcp", resetGate, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				at := time.Now()
				_ = c.SetDeadline(at.Add(2 * time.Second))
				_, _ = io.WriteString(c, "GET /csp/mirror_status.cxw HTTP/1.1\r\nHost: x\r\n\r\n")
				got, err := io.ReadAll(c)
				took = append(took, itest.CheckSample{At: at, Took: time.Since(at), Err: errIfTimeout(err)})
				c.Close()
				if strings.HasSuffix(string(got), "\r\n\r\nSUC") {
					partial++
				}
				if errors.Is(err, syscall.ECONNRESET) {
					resets++
				}
			}
			tl := itest.LatencyOf(took, time.Time{}, time.Time{})
			if resets != 50 || tl.Errors > 0 {
				t.Errorf("TARGET resetting mid-response: %d of 50 clients saw a reset (a clean end would pass a cut response off as complete), %d timed out", resets, tl.Errors)
			}
			row = gateFaultRow{fault: "TARGET resets mid-response (50 requests)",
				saw:    fmt.Sprintf("every client got a reset, never a clean end; %d of 50 read the partial response first (`SUC` of `SUCCESS`)", partial),
				waited: fmt.Sprintf("%s p99, %s max", ms(tl.P99), ms(tl.Max)), refused: "stays open (member primary)", again: "at once"}
		})
		rows = append(rows, row)
	}

	var b strings.Builder
	b.WriteString("| fault, seen through a gate | what the client saw | client waited (from the fault) | gate refusing new connections after | forwarding again after the fault ends | check p99 HTTP / agent-check |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s / %s |\n", r.fault, r.saw, r.waited, r.refused, r.again, ms(r.httpP99), ms(r.agentP99))
	}
	itest.Report(t, "faults.md", "Faults seen through a gate", "The agent binary with gates, balancers checking it every 5 ms; "+
		"each fault hits a member while clients hold sessions through its gate.", b.String())
}

func isRefused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if c != nil {
		c.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func errIfTimeout(err error) error {
	if isTimeout(err) {
		return err
	}
	return nil
}

func errText(err error) string {
	if err == nil {
		return "answered"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

func readLog(p *itest.Proc) string {
	return itest.Tail(p.Log, 1<<30)
}
