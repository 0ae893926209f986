package integration

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// Bounds of the nginx gate examples (issue 3's done-when), with agents at
// --interval 250ms --timeout 500ms.
const (
	gateFirstNew  = time.Second            // planned switch: the new primary answers within
	gateLastOld   = 750 * time.Millisecond // planned switch: nothing answered by the old primary after
	gateHang      = 1500 * time.Millisecond
	gateErrorFast = time.Second // every member refusing: nginx's error arrives within
)

// gateBounds are what a balancer in front of the agents' gates must meet
// in gateScenarios.
type gateBounds struct {
	balancer  string        // names it in the log
	firstNew  time.Duration // planned switch: the new primary answers within
	lastOld   time.Duration // planned switch: nothing answered by the old primary after
	hang      time.Duration // requests held by a hung primary are released within
	errorFast time.Duration // every member refusing: the balancer's error arrives within
	// held: a failed request that took longer was held by the hung
	// primary; shorter, it is the balancer's own error (at once for nginx,
	// after its retries for others).
	held time.Duration
}

var nginxGate = gateBounds{balancer: "nginx", firstNew: gateFirstNew, lastOld: gateLastOld, hang: gateHang,
	errorFast: gateErrorFast, held: 150 * time.Millisecond}

// startGateLayout is the reference layout with both gates beside every
// member, on the member's own address.
func startGateLayout(t *testing.T) *layout {
	t.Helper()
	return startLayoutFlags(t, func(m *itest.Member) []string {
		return append(append([]string{}, fastAgent...), itest.GateFlags(m)...)
	})
}

// restoreAP1 makes ap1a the primary again and waits until nginx sends AP1
// there and ap1b's gates refuse.
func restoreAP1(t *testing.T, l *layout, ap1 askFunc) {
	t.Helper()
	l.set(t, "ap1b", "backup", "ap1a", "primary")
	waitAsk(t, ap1, "ap1a", 10*time.Second)
	itest.WaitRefused(t, l.members["ap1b"].WebGateAddr(), 5*time.Second)
	itest.WaitRefused(t, l.members["ap1b"].SuperServerGateAddr(), 5*time.Second)
}

// TestNginxHTTPGate runs examples/nginx/http-gate.conf unchanged in front
// of the reference layout and drives the failover scenarios through it
// with HTTP requests, as the seed's REST application is reached.
func TestNginxHTTPGate(t *testing.T) {
	l := startGateLayout(t)
	itest.StartNginx(t, itest.Example(t, "nginx/http-gate.conf"), l.hosts)
	base := "http://" + l.front // the example listens on port 80, all addresses
	ap1 := itest.HTTPAsk(base+"/ap1/csp/mirrorns/api/get", 3*time.Second)
	ap2 := itest.HTTPAsk(base+"/ap2/csp/mirrorns/api/get", 3*time.Second)
	waitAsk(t, ap1, "ap1a", 10*time.Second)
	waitAsk(t, ap2, "ap2a", 10*time.Second)
	gateScenarios(t, l, "http-gate.conf", ap1, ap2, func(err string) bool { return err == "HTTP 502" }, nginxGate)
}

// TestNginxStreamGate runs examples/nginx/stream-gate.conf unchanged: TCP
// sessions (as JDBC's) through nginx's stream module to the SuperServer
// gates.
func TestNginxStreamGate(t *testing.T) {
	l := startGateLayout(t)
	itest.StartNginx(t, itest.Example(t, "nginx/stream-gate.conf"), l.hosts)
	ap1Addr, ap2Addr := l.front+":21972", l.front+":31972"
	ap1 := itest.TCPAsk(ap1Addr, 3*time.Second)
	ap2 := itest.TCPAsk(ap2Addr, 3*time.Second)
	waitRouted(t, ap1Addr, "ap1a", 10*time.Second)
	waitRouted(t, ap2Addr, "ap2a", 10*time.Second)

	t.Run("sessions cut on demotion", func(t *testing.T) {
		// A pooled JDBC session to the primary must not outlive its
		// demotion: the gate cuts it, the pool reconnects through nginx.
		c, err := net.DialTimeout("tcp", ap1Addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "who\n"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "ap1a ") {
			t.Fatalf("session through nginx: %q %v", buf[:n], err)
		}
		t0 := l.set(t, "ap1a", "backup", "ap1b", "primary")
		_, err = c.Read(buf)
		cut := time.Since(t0)
		t.Logf("nginx stream-gate.conf: session to the demoted primary closed %v after the switch (%v)", cut.Round(time.Millisecond), err)
		if err == nil {
			t.Fatal("the session to the demoted primary still answers")
		}
		if cut > nginxGate.lastOld {
			t.Errorf("session cut after %v, want < %v", cut, nginxGate.lastOld)
		}
		waitRouted(t, ap1Addr, "ap1b", 5*time.Second)
	})
	restoreAP1(t, l, ap1)
	// nginx's stream module closes the client's connection when no member
	// takes it: the client reads EOF or a reset.
	gateScenarios(t, l, "stream-gate.conf", ap1, ap2, func(string) bool { return true }, nginxGate)
}

// gateScenarios drives a planned switch, the primary stopped, the primary
// hung, and both members stopped through a balancer running example,
// restoring ap1a as the primary after each, and logs what it measured as
// a table. isError tells whether a failed request failed the way this
// balancer should fail it.
func gateScenarios(t *testing.T, l *layout, example string, ap1, ap2 askFunc, isError func(string) bool, b gateBounds) {
	var rows [][2]string
	report := func(scenario string, result fmt.Stringer) {
		t.Logf("%s %s %s: %s", b.balancer, example, scenario, result)
		rows = append(rows, [2]string{scenario, result.String()})
	}
	defer func() {
		var tb strings.Builder
		fmt.Fprintf(&tb, "%s %s in front of the gates (agents %s):\n| scenario | measured |\n|---|---|\n", b.balancer, example, strings.Join(fastAgent, " "))
		for _, r := range rows {
			fmt.Fprintf(&tb, "| %s | %s |\n", r[0], r[1])
		}
		t.Log(tb.String())
	}()
	t.Run("planned switch", func(t *testing.T) {
		sw, ap2ok := measureSwitchAsk(t, l, ap1, ap2, "ap1a", "backup")
		report("planned switch", sw)
		checkSwitch(t, sw, b.firstNew, b.lastOld)
		if !ap2ok {
			t.Error("AP2 was disturbed by a switch in AP1")
		}
	})
	restoreAP1(t, l, ap1)

	t.Run("primary down", func(t *testing.T) {
		sw, ap2ok := measureSwitchAsk(t, l, ap1, ap2, "ap1a", "down")
		report("primary down", sw)
		// A request that started while the stop was being applied may
		// still be answered; none may be after that.
		checkSwitch(t, sw, b.firstNew, 50*time.Millisecond)
		if !ap2ok {
			t.Error("AP2 was disturbed")
		}
	})
	restoreAP1(t, l, ap1)

	t.Run("primary hang", func(t *testing.T) {
		// ap1a hangs: its ports accept and never answer. Requests already
		// forwarded wait until the agent closes the gate and cuts them;
		// after that, with ap1b still a backup, the balancer must fail
		// every request at once (nginx) or after its retries (b.held).
		// Then ap1b is promoted and must be found at once.
		s := &itest.Sampler{Every: 10 * time.Millisecond, Ask: ap1}
		s.Start(15 * time.Second)
		time.Sleep(300 * time.Millisecond)
		cut0 := gatesCut(t, l, "ap1a")
		t0 := l.set(t, "ap1a", "hang")
		time.Sleep(2 * time.Second)
		t1 := l.set(t, "ap1b", "primary")
		time.Sleep(1500 * time.Millisecond)
		samples := s.Stop()
		h := analyseHang(samples, t0, t1, b.held)
		h.cut = gatesCut(t, l, "ap1a") - cut0
		report("primary hang", h)
		// The gates' count, not the requests' durations, shows requests
		// were caught: a balancer that retries (Caddy) makes a request held
		// briefly by the hung member as long as one it failed on its own.
		if h.cut == 0 || h.released > b.hang {
			t.Errorf("requests held by the hung primary released %v after the hang, want < %v (%s)", h.released, b.hang, h)
		}
		if h.fast == 0 || h.slowAfterRelease > 0 {
			t.Errorf("with no primary, %s should fail every request within %v (%s)", b.balancer, b.held, h)
		}
		if h.other != "" {
			t.Errorf("unexpected answer while AP1 had no primary: %s", h.other)
		}
		sw := itest.Analyse(samples, t1, "ap1a", "ap1b")
		report("ap1b promoted after the hang", sw)
		if !sw.NewOK || sw.FirstNew > b.firstNew {
			t.Errorf("promoted ap1b first answered after %v, want < %v (%s)", sw.FirstNew, b.firstNew, sw)
		}
	})
	restoreAP1(t, l, ap1)

	t.Run("both members stopped", func(t *testing.T) {
		s := &itest.Sampler{Every: 10 * time.Millisecond, Ask: ap1}
		s2 := &itest.Sampler{Every: 50 * time.Millisecond, Ask: ap2}
		s.Start(10 * time.Second)
		s2.Start(10 * time.Second)
		time.Sleep(300 * time.Millisecond)
		t0 := l.set(t, "ap1a", "down", "ap1b", "down")
		time.Sleep(1500 * time.Millisecond)
		e := analyseErrors(s.Stop(), t0, 50*time.Millisecond)
		report("both AP1 members stopped", e)
		if e.errors == 0 || e.slowest > b.errorFast {
			t.Errorf("%s's errors: %s; want every one within %v", b.balancer, e, b.errorFast)
		}
		if e.answeredLate > 0 {
			t.Errorf("%d requests answered by a stopped member", e.answeredLate)
		}
		for _, k := range e.kinds {
			if !isError(k) {
				t.Errorf("error %q is not how %s should fail here", k, b.balancer)
			}
		}
		for _, smp := range s2.Stop() {
			if smp.Err != nil || smp.Member != "ap2a" {
				t.Errorf("AP2 disturbed: %q %v", smp.Member, smp.Err)
				break
			}
		}
	})
	restoreAP1(t, l, ap1)
}

// gatesCut sums the sessions member's gates have cut.
func gatesCut(t *testing.T, l *layout, member string) uint64 {
	t.Helper()
	gs, err := itest.GateStatus(l.agents[member].HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, g := range gs {
		n += g.Cut
	}
	return n
}

// checkSwitch applies the done-when bounds to a switch from ap1a to ap1b.
func checkSwitch(t *testing.T, sw itest.Switch, firstNew, lastOld time.Duration) {
	t.Helper()
	if !sw.NewOK || sw.FirstNew > firstNew {
		t.Errorf("new primary first answered after %v, want < %v (%s)", sw.FirstNew, firstNew, sw)
	}
	if sw.LastOld > lastOld {
		t.Errorf("old primary still answered %v after the switch, want < %v", sw.LastOld, lastOld)
	}
}

// hangResult summarises requests around a hung primary (t0) and the
// promotion of the other member (t1).
type hangResult struct {
	cut              uint64        // sessions the hung member's gates cut
	hung             int           // requests held by the hung member longer than the balancer's own error
	released         time.Duration // t0 to the end of the last held request
	fast             int           // errors answered at once after the release
	slowAfterRelease int           // requests started after the release that still waited
	worstFast        time.Duration
	other            string // an unexpected answer, if any
}

func analyseHang(samples []itest.Sample, t0, t1 time.Time, held time.Duration) hangResult {
	var h hangResult
	for _, s := range samples {
		if s.At.Before(t0) || !s.At.Before(t1) {
			continue
		}
		if s.Err == nil {
			// One that started while the hang was being applied may
			// still be answered; none may be after that, until ap1b is
			// promoted (a balancer that retries may hold a request until
			// then, and answer it from the new primary).
			if s.At.Sub(t0) > 50*time.Millisecond && s.At.Add(s.Took).Before(t1) {
				h.other = s.Member + " answered at " + s.At.Sub(t0).Round(time.Millisecond).String()
			}
			continue
		}
		if s.Took >= held {
			h.hung++
			h.released = max(h.released, s.At.Add(s.Took).Sub(t0))
		}
	}
	for _, s := range samples {
		if s.At.Sub(t0) <= h.released || !s.At.Before(t1) || s.Err == nil {
			continue
		}
		if s.Took >= held {
			h.slowAfterRelease++
		} else {
			h.fast++
			h.worstFast = max(h.worstFast, s.Took)
		}
	}
	return h
}

func (h hangResult) String() string {
	held := "none held longer than the balancer's own error"
	if h.hung > 0 {
		held = fmt.Sprintf("%d held requests released %v after the hang", h.hung, h.released.Round(time.Millisecond))
	}
	return fmt.Sprintf("the gates cut %d sessions; %s; then %d errors without waiting on it (slowest %v), %d slow",
		h.cut, held, h.fast, h.worstFast.Round(time.Microsecond), h.slowAfterRelease)
}

// errorResult summarises requests after every member of a set stopped.
type errorResult struct {
	errors       int
	answeredLate int // answered by a member although started after the grace
	p50, slowest time.Duration
	kinds        []string // distinct error texts
}

func analyseErrors(samples []itest.Sample, t0 time.Time, grace time.Duration) errorResult {
	var e errorResult
	var took []time.Duration
	kinds := map[string]bool{}
	for _, s := range samples {
		if s.At.Before(t0) {
			continue
		}
		if s.Err == nil {
			if s.At.Sub(t0) > grace {
				e.answeredLate++
			}
			continue
		}
		e.errors++
		took = append(took, s.Took)
		k := s.Err.Error()
		if i := strings.LastIndex(k, ": "); i >= 0 && !strings.HasPrefix(k, "HTTP ") {
			k = k[i+2:]
		}
		if !kinds[k] {
			kinds[k] = true
			e.kinds = append(e.kinds, k)
		}
	}
	if len(took) > 0 {
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		e.p50, e.slowest = took[len(took)/2], took[len(took)-1]
	}
	return e
}

func (e errorResult) String() string {
	return fmt.Sprintf("%d errors, p50 %v, slowest %v, kinds %s",
		e.errors, e.p50.Round(time.Microsecond), e.slowest.Round(time.Microsecond), strings.Join(e.kinds, ", "))
}
