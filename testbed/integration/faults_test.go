package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// The agent runs at these settings in the fault tests: a hung probe is cut
// at 400 ms, three errors in a row make the role down, two good answers
// bring it back. An answer holds for the lease, interval + timeout.
var faultAgent = []string{"--interval", "200ms", "--timeout", "400ms", "--fall", "3", "--rise", "2"}

const (
	faultTimeout = 400 * time.Millisecond
	faultLease   = 200*time.Millisecond + faultTimeout
)

// fromMemory reports what is wrong, if anything, with the latency of
// checks answered while a probe may hang for timeout. A check that
// waited for the probe would take up to the timeout, half of them more
// than half of it; a busy machine's scheduling delays stay far below
// that. (How fast a check is on a quiet machine is the benchmarks' job.)
func fromMemory(http, agent itest.Latency, timeout time.Duration) string {
	for _, l := range []itest.Latency{http, agent} {
		if l.P50 >= timeout/4 || l.P99 >= timeout {
			return fmt.Sprintf("check p50/p99 HTTP %v/%v, agent %v/%v: want under %v/%v (answers from memory, never after a probe that takes up to %v)",
				http.P50, http.P99, agent.P50, agent.P99, timeout/4, timeout, timeout)
		}
	}
	return ""
}

// faultRow is one line of the fault table.
type faultRow struct {
	fault             string
	role, reason      string
	notRoutable, down time.Duration // after the fault began
	recovered         time.Duration // after the fault ended
	httpP99, agentP99 time.Duration
	httpN, agentN     int
	routableShare     float64 // of HTTP checks during the fault
	roleWasDown       bool
	// lastRoutable is when, after the fault was in place, the last check
	// started that passed (if lastRoutableSeen).
	lastRoutable     time.Duration
	lastRoutableSeen bool
}

// stillRoutable says what is wrong if a check passed more than a lease
// after the fault was in place: the answer it got had outlived its lease.
func (r *faultRow) stillRoutable(lease time.Duration) string {
	if r.lastRoutableSeen && r.lastRoutable > lease {
		return fmt.Sprintf("a check passed %v after the fault was in place, past the lease (%v)", r.lastRoutable, lease)
	}
	return ""
}

// measure fills the row from the checks: when they first failed after t0
// and passed again after t1, their latency from t0, and how many passed
// between t0 and t1.
func (r *faultRow) measure(httpS, agentS []itest.CheckSample, t0, t1 time.Time) (hl, al itest.Latency) {
	r.notRoutable, _ = itest.FirstAfter(httpS, t0, false)
	r.recovered, _ = itest.FirstAfter(httpS, t1, true)
	r.roleWasDown = r.down >= 0
	hl, al = itest.LatencyOf(httpS, t0, time.Time{}), itest.LatencyOf(agentS, t0, time.Time{})
	r.httpP99, r.agentP99, r.httpN, r.agentN = hl.P99, al.P99, hl.N, al.N
	ok, n := 0, 0
	for _, s := range httpS {
		if !s.At.Before(t0) && s.At.Before(t1) && s.Err == nil {
			n++
			if s.OK {
				ok++
			}
		}
	}
	if n > 0 {
		r.routableShare = float64(ok) / float64(n)
	}
	return hl, al
}

// startAgentAt runs the agent binary on ip:9797/9798 for a mirror-status
// URL, with extra flags last; wrap, if set, wraps its command line.
func startAgentAt(t *testing.T, name, ip, mirrorURL string, wrap func(argv []string) []string, extra ...string) *itest.Proc {
	t.Helper()
	bin, _ := itest.Binaries(t)
	argv := []string{bin, "serve", "--member", name, "--mirror-status-url", mirrorURL, "--superserver", "",
		"--http-listen", ip + ":9797", "--agent-listen", ip + ":9798", "--log-format", "json", "--shutdown-delay", "0s"}
	argv = append(argv, extra...)
	if wrap != nil {
		argv = wrap(argv)
	}
	p := itest.Start(t, "agent-"+name, nil, argv...)
	itest.WaitTCP(t, ip+":9797", 10*time.Second)
	return p
}

// agentStatus reads role and reason from /status.
func agentStatus(httpAddr string) (role, reason string, err error) {
	code, body, err := itest.HTTPGet("http://"+httpAddr+"/status", time.Second)
	if err != nil {
		return "", "", err
	}
	if code != 200 {
		return "", "", fmt.Errorf("/status %d", code)
	}
	var st struct{ Role, Reason string }
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return "", "", err
	}
	return st.Role, st.Reason, nil
}

// roleWatch polls /status, recording each role seen and when the role
// first became down.
type roleWatch struct {
	since        time.Time
	roles        []string
	down         time.Duration // -1 until down
	role, reason string
}

func newRoleWatch(since time.Time) *roleWatch { return &roleWatch{since: since, down: -1} }

// until polls every 10 ms until the role has been down for settle, or
// until max after since.
func (w *roleWatch) until(httpAddr string, settle, max time.Duration) {
	for time.Since(w.since) < max {
		role, reason, err := agentStatus(httpAddr)
		if err == nil {
			if len(w.roles) == 0 || w.roles[len(w.roles)-1] != role {
				w.roles = append(w.roles, role)
			}
			if role == "down" && w.down < 0 {
				w.down = time.Since(w.since)
			}
			w.role, w.reason = role, reason
		}
		if w.down >= 0 && time.Since(w.since) > w.down+settle {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runFault measures one fault: the agent is a routable primary, the fault
// begins (inject), the test waits until the agent says down (or for a
// fixed window when the fault never makes it down), the fault ends
// (restore), and the agent must be routable again.
func runFault(t *testing.T, name, httpAddr, agentAddr string, window time.Duration, inject, restore func()) faultRow {
	t.Helper()
	itest.WaitHTTP(t, "http://"+httpAddr+"/primary", 200, 10*time.Second)
	checks := &itest.BalancerChecks{HTTPAddr: httpAddr, AgentAddr: agentAddr}
	checks.Start(30 * time.Second)
	defer checks.Stop()
	time.Sleep(200 * time.Millisecond)

	t0 := time.Now()
	inject()
	tInjected := time.Now() // every probe round started from here on meets the fault
	w := newRoleWatch(t0)
	w.until(httpAddr, 150*time.Millisecond, window)
	t1 := time.Now()
	restore()
	itest.WaitHTTP(t, "http://"+httpAddr+"/primary", 200, 10*time.Second)
	checks.WaitPassed(t1, 3*time.Second)
	checks.Stop()

	row := faultRow{fault: name, role: w.role, reason: w.reason, down: w.down}
	httpS, agentS := checks.HTTP(), checks.Agent()
	hl, al := row.measure(httpS, agentS, t0, t1)
	if hl.Errors+al.Errors > 0 {
		t.Errorf("%s: %d HTTP and %d agent-checks got no answer while IRIS misbehaved (%v)", name, hl.Errors, al.Errors, firstErr(agentS))
	}
	if bad := fromMemory(hl, al, faultTimeout); bad != "" {
		t.Errorf("%s: %s", name, bad)
	}
	row.lastRoutable, row.lastRoutableSeen = itest.LastPassedAfter(httpS, tInjected, t1)
	if d, ok := itest.LastPassedAfter(agentS, tInjected, t1); ok && d > row.lastRoutable {
		row.lastRoutable, row.lastRoutableSeen = d, true
	}
	return row
}

// TestIRISFaults injects each IRIS fault under a running agent binary and
// measures what it reports, how fast, and the latency of balancer checks
// meanwhile. The table is logged for README's Reliability section.
func TestIRISFaults(t *testing.T) {
	l := itest.NewLoopback(t)
	ca := itest.NewCA(t, "iris")
	faults := []itest.Fault{
		itest.HangAfterAccept, itest.HangMidHeaders, itest.HangMidBody, itest.ResetMidResponse,
		itest.SlowBody, itest.HugeBody, itest.WrongBody, itest.Redirect, itest.BadCertificate,
		itest.FlapBackup, itest.FlapError,
	}
	var rows []faultRow
	for i, f := range faults {
		ip := l.IP(10 + i)
		var srv *itest.FaultServer
		var extra []string
		if f == itest.BadCertificate {
			srv = itest.StartFaultServer(t, ip+":52773", ca)
			extra = []string{"--ca-file", ca.File}
		} else {
			srv = itest.StartFaultServer(t, ip+":52773", nil)
		}
		startAgentAt(t, "f"+fmt.Sprint(i), ip, srv.URL(), nil, append(extra, faultAgent...)...)
		window := 3 * time.Second
		if f == itest.FlapBackup || f == itest.FlapError {
			window = 1500 * time.Millisecond
		}
		row := runFault(t, string(f), ip+":9797", ip+":9798", window, func() { srv.Set(f) }, func() { srv.Set(itest.Healthy) })
		rows = append(rows, row)
		flap := f == itest.FlapBackup || f == itest.FlapError
		switch {
		case flap:
			// Each answer acts at once: routable after SUCCESS, not after
			// the other answer. An error alone never makes it down.
			if row.roleWasDown || row.routableShare < 0.2 || row.routableShare > 0.8 {
				t.Errorf("%s: role went down=%v, routable %.0f%% of the time", f, row.roleWasDown, 100*row.routableShare)
			}
		default:
			if !row.roleWasDown || row.role != "down" {
				t.Errorf("%s: role %s (%s), want down", f, row.role, row.reason)
			}
			// Not routable from the first failed probe: no answer outlives
			// the lease of the last round that started before the fault.
			if bad := row.stillRoutable(faultLease); bad != "" {
				t.Errorf("%s: %s", f, bad)
			}
			// Down after fall (3) failed rounds of at most max(interval,
			// timeout) each.
			if row.down > 3*time.Second {
				t.Errorf("%s: down after %v", f, row.down)
			}
		}
		if row.recovered > 2*time.Second {
			t.Errorf("%s: routable again only %v after the fault ended", f, row.recovered)
		}
	}
	rows = append(rows, simulatorFaults(t, l)...)
	rows = append(rows, dnsFault(t, l))
	logFaultTable(t, rows)
}

// simulatorFaults runs the simulator's own fault states: hang (both
// ports accept and never answer) and down (both refuse).
func simulatorFaults(t *testing.T, l *itest.Loopback) []faultRow {
	var rows []faultRow
	for i, state := range []string{"hang", "down"} {
		m := itest.StartMember(t, "sim"+state, l.IP(40+i), "primary")
		a := itest.StartAgent(t, m, faultAgent...)
		row := runFault(t, "simulator "+state+" (web and SuperServer)", a.HTTPAddr(), a.AgentAddr(), 3*time.Second,
			func() { m.Set(t, state) }, func() { m.Set(t, "primary") })
		if row.role != "down" {
			t.Errorf("simulator %s: role %s, want down", state, row.role)
		}
		if bad := row.stillRoutable(faultLease); bad != "" {
			t.Errorf("simulator %s: %s", state, bad)
		}
		rows = append(rows, row)
	}
	return rows
}

// dnsFault runs the agent with a mirror-status URL whose name does not
// resolve. It runs in a mount namespace whose resolv.conf names only a
// loopback DNS server that answers NXDOMAIN, so no query leaves the host.
// Then the name appears in its /etc/hosts.
func dnsFault(t *testing.T, l *itest.Loopback) faultRow {
	ip := l.IP(50)
	dns := itest.StartNXDomain(t, l.IP(51))
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(resolv, []byte("nameserver "+dns.IP+"\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := itest.StartFaultServer(t, ip+":52773", nil)
	wrap := func(argv []string) []string {
		return itest.WithFiles(t, map[string]string{"/etc/resolv.conf": resolv, "/etc/hosts": hosts}, argv...)
	}
	start := time.Now()
	startAgentAt(t, "dns", ip, "http://ap1a.invalid:52773/csp/mirror_status.cxw", wrap, faultAgent...)
	httpAddr := ip + ":9797"
	checks := &itest.BalancerChecks{HTTPAddr: httpAddr, AgentAddr: ip + ":9798"}
	checks.Start(30 * time.Second)
	defer checks.Stop()
	w := newRoleWatch(start)
	w.until(httpAddr, 300*time.Millisecond, 3*time.Second)
	// The name appears: the Go resolver rereads /etc/hosts when it
	// changes, at most every 5 s.
	t1 := time.Now()
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"+ip+" ap1a.invalid\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	itest.WaitHTTP(t, "http://"+httpAddr+"/primary", 200, 10*time.Second)
	checks.WaitPassed(t1, 3*time.Second)
	checks.Stop()
	row := faultRow{fault: "DNS name does not resolve (.invalid, NXDOMAIN), from the start", role: w.role, reason: w.reason, down: w.down}
	row.measure(checks.HTTP(), checks.Agent(), start, t1)
	if first, ok := itest.FirstAfter(checks.HTTP(), start, true); !ok || first < t1.Sub(start) {
		t.Errorf("dns: first routable %v (%v) after start; the name appeared after %v", first, ok, t1.Sub(start))
	}
	if w.role != "down" || !strings.Contains(w.reason, "no such host") {
		t.Errorf("dns: role %s (%s), want down with no such host", w.role, w.reason)
	}
	if srv.Requests() == 0 {
		t.Errorf("dns: the member was never asked after its name appeared")
	}
	t.Logf("dns: %d queries reached the loopback NXDOMAIN server (its resolv.conf names no other)", dns.Queries())
	return row
}

func logFaultTable(t *testing.T, rows []faultRow) {
	var b strings.Builder
	b.WriteString("| IRIS fault | role reported (reason) | not routable after | role down after | routable again after the fault ends | check p99 HTTP / agent-check (checks) |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		down := "never"
		if r.roleWasDown {
			down = ms(r.down)
		}
		nr := ms(r.notRoutable)
		if r.fault[:3] == "fla" {
			nr = fmt.Sprintf("every other probe (routable %.0f%% of checks)", 100*r.routableShare)
		}
		if strings.HasPrefix(r.fault, "DNS") {
			nr = "never routable"
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %s / %s (%d + %d) |\n", r.fault, r.role, r.reason, nr, down, ms(r.recovered),
			ms(r.httpP99), ms(r.agentP99), r.httpN, r.agentN)
	}
	itest.Report(t, "faults.md", "IRIS faults", fmt.Sprintf("The agent binary at `%s`, no SuperServer probe (except the simulator rows), "+
		"a loopback server injecting each fault into mirror_status.cxw (testbed/itest/faults.go), balancers checking `/primary` "+
		"and the agent-check port every 5 ms on fresh connections. Times from the start of the fault.", strings.Join(faultAgent, " ")), b.String())
}

func firstErr(s []itest.CheckSample) error {
	for _, x := range s {
		if x.Err != nil {
			return x.Err
		}
	}
	return nil
}
