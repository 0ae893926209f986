//go:build bench

package benchsuite

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// sectionFence: wrk in one network namespace, the application in another
// (a member's, with irissim and the agent), joined by a veth pair: the
// same application straight on an unfenced port ("direct"), on a fenced
// port while the member is primary (the fence open: no table at all),
// on the fenced port while the member is a backup and wrk's address is in
// --fence-allow (the fence closed: every packet of the session crosses
// the fence's chain), and through the agent's gate. The kernel's nftables
// are the real ones; the host's are never touched.
func sectionFence(t *testing.T, e *env) *Table {
	p := itest.RequireNetns(t)
	itest.RequireTool(t, "nft")
	inM := itest.EnterNetns(t, p.Member)
	app := func(port string) string {
		addr := p.MemberIP + ":" + port
		itest.Start(t, "baseline-web-"+port, nil, p.Exec(p.Member, e.baseline, "web", addr)...)
		return addr
	}
	fenced, direct := app("8080"), app("8090")
	gate := p.MemberIP + ":8082"
	itest.Start(t, "irissim-fence", nil, p.Exec(p.Member, e.sim, "serve", "--name", "bench", "--state", "primary",
		"--web", "127.0.0.1:52773", "--superserver", "127.0.0.1:1972", "--control", "127.0.0.1:52780")...)
	itest.Start(t, "agent-fence", nil, p.Exec(p.Member, e.agent, "serve", "--member", "bench",
		"--mirror-status-url", "http://127.0.0.1:52773/csp/mirror_status.cxw", "--superserver", "127.0.0.1:1972",
		"--http-listen", "127.0.0.1:9797", "--agent-listen", "", "--log-format", "json", "--log-level", "warn",
		"--interval", "100ms", "--timeout", "300ms",
		"--fence", "8080", "--fence-allow", p.AgentIP+"/32", "--gate", gate+"="+direct)...)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: inM.DialContext, DisableKeepAlives: true, Proxy: nil}}
	setRole := func(state, fence string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:52780/state", strings.NewReader(state))
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
			if fenceState(client) == fence {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("fence not %s after the member became %s", fence, state)
			}
			req, _ = http.NewRequest(http.MethodPut, "http://127.0.0.1:52780/state", strings.NewReader(state))
		}
	}
	wrk := func(url string, conns int, closeConn bool) WrkResult {
		return e.runWrkVia(t, p.Exec(p.Agent), url, conns, closeConn)
	}
	setRole("primary", "open")
	for _, addr := range []string{fenced, direct, gate} {
		wrk("http://"+addr+"/", 16, false) // warm up
	}

	tbl := &Table{
		Title: "through the fence",
		Intro: "wrk in one network namespace, the application (`baseline web`) in a member's namespace with irissim and the agent " +
			"(`--fence 8080 --fence-allow <wrk's address>/32 --gate :8082=<app on 8090>`), joined by a veth pair: straight to the " +
			"application on an unfenced port (direct); on the fenced port with the member primary (fence open: the agent's table " +
			"does not exist); on the fenced port with the member a backup and wrk's address allowed (fence closed: every packet of " +
			"the session crosses the fence's chain and its rules); through the gate (member primary). Each run measures direct, " +
			"the open fence and the gate while the member is primary, then direct and the closed fence while it is a backup; the " +
			"ratios and added latencies are medians of each run's path against the direct run beside it (range in brackets). Small answers (8 bytes) on kept-alive connections, one new connection " +
			"per request (`Connection: close`), and `/bulk` (1 MiB). Targets: through the fence >= 0.98x direct, at most 5 µs " +
			"added to the median latency.",
		Head: []string{"load", "direct", "fence open", "fence closed, allowed", "gate", "open/direct", "closed/direct", "gate/direct",
			"direct p50", "added p50 open / closed / gate", "errors (d/o/c/g)", "target met"},
	}
	cases := []struct {
		load      string
		path      string
		conns     int
		closeConn bool
		bulk      bool
	}{
		{"16 connections kept alive, small (req/s)", "/", 16, false, false},
		{"16 connections, a new one per request (req/s)", "/", 16, true, false},
		{"8 connections, 1 MiB (MB/s)", "/bulk", 8, false, true},
	}
	// direct while primary, open, closed, gate, direct while backup: each
	// path is compared with direct measured beside it, in the same phase.
	const nd, no, nc, ng, nb = 0, 1, 2, 3, 4
	type acc struct {
		vals, p50 [5][]float64
		errs      [5]int
	}
	accs := make([]acc, len(cases))
	measure := func(run int, targets map[int]string) {
		keys := []int{}
		for k := range 5 {
			if _, ok := targets[k]; ok {
				keys = append(keys, k)
			}
		}
		for ci, c := range cases {
			for i := range keys {
				k := keys[(i+run)%len(keys)] // rotate: no target always first
				r := wrk("http://"+targets[k]+c.path, c.conns, c.closeConn)
				v := r.PerSec
				if c.bulk {
					v = r.Bytes / 1e6
				}
				a := &accs[ci]
				a.vals[k], a.p50[k] = append(a.vals[k], v), append(a.p50[k], r.P50.Seconds())
				a.errs[k] += r.Errors
			}
		}
	}
	for run := range e.s.runs {
		setRole("primary", "open")
		measure(run, map[int]string{nd: direct, no: fenced, ng: gate})
		setRole("backup", "closed")
		measure(run, map[int]string{nb: direct, nc: fenced})
	}
	signed := func(v float64) string {
		if v < 0 {
			return "-" + FmtDur(-v)
		}
		return FmtDur(v)
	}
	for ci, c := range cases {
		a := accs[ci]
		S := func(k int) Summary { return Summarise(a.vals[k]) }
		base := map[int]int{no: nd, nc: nb, ng: nd}
		ratio := func(k int) Summary { return Paired(a.vals[k], a.vals[base[k]]) }
		added := func(k int) Summary { return pairedDiff(a.p50[k], a.p50[base[k]]) }
		rOpen, rClosed, rGate := ratio(no), ratio(nc), ratio(ng)
		ok := rOpen.Median >= 0.98 && rClosed.Median >= 0.98 && (c.bulk || (added(no).Median <= 5e-6 && added(nc).Median <= 5e-6))
		fmtV := FmtRate
		if c.bulk {
			fmtV = func(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }
		}
		t.Logf("fence %s: direct %.0f, open %.2fx, closed+allowed %.2fx, gate %.2fx (paired medians); added p50 %s / %s / %s",
			c.load, S(nd).Median, rOpen.Median, rClosed.Median, rGate.Median,
			signed(added(no).Median), signed(added(nc).Median), signed(added(ng).Median))
		all := append(append([]float64(nil), a.vals[nd]...), a.vals[nb]...)
		allP50 := append(append([]float64(nil), a.p50[nd]...), a.p50[nb]...)
		tbl.AddRow(c.load, Summarise(all).Format(fmtV), S(no).Format(fmtV), S(nc).Format(fmtV), S(ng).Format(fmtV),
			rOpen.Format(FmtRatio), rClosed.Format(FmtRatio), rGate.Format(FmtRatio), Summarise(allP50).Format(FmtDur),
			signed(added(no).Median)+" / "+signed(added(nc).Median)+" / "+signed(added(ng).Median),
			fmt.Sprintf("%d/%d/%d/%d", a.errs[nd]+a.errs[nb], a.errs[no], a.errs[nc], a.errs[ng]),
			Verdict(ok, !math.IsNaN(rOpen.Median) && !math.IsNaN(rClosed.Median)))
	}
	tbl.Notes = append(tbl.Notes,
		"The fence is not on the data path: an open fence is no table at all, and a closed one is a few comparisons per packet "+
			"in the kernel (loopback, the allowed prefixes, then SYN-without-ACK to a fenced port), with no conntrack. The gate "+
			"is one more TCP hop through the agent.",
		"Refused clients never reach the application: their SYN is answered with a reset by the kernel (see docs/fence.md for "+
			"the reaction times).")
	return tbl
}

// pairedDiff summarises a[i]-b[i], as Paired does ratios.
func pairedDiff(a, b []float64) Summary {
	if len(a) != len(b) {
		return Summarise(nil)
	}
	d := make([]float64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return Summarise(d)
}

// fenceState is the fence's state in the agent's /status, or "".
func fenceState(c *http.Client) string {
	resp, err := c.Get("http://127.0.0.1:9797/status")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Fence struct {
			State, Reason string
		}
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || strings.HasPrefix(st.Fence.Reason, "starting") {
		return ""
	}
	return st.Fence.State
}
