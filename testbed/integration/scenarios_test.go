package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// The seed's five scenarios (shared/reference: "The reference deployment"),
// end to end: four simulated members, an agent beside each, a real balancer
// in front, and clients asking through it who answers. Each balancer is a
// frontDoor; the scenarios are the same for all of them.

// askFunc sends one client request through a balancer and returns the
// member that answered.
type askFunc func(ctx context.Context) (string, error)

// frontDoor is a balancer in front of the reference layout.
type frontDoor struct {
	name string
	// agentFlags are each member's agent's extra flags.
	agentFlags func(t *testing.T) func(m *itest.Member) []string
	// start runs the balancer in front of l, waits until its first checks
	// settled, and returns how a client reaches mirror sets AP1 and AP2.
	start func(t *testing.T, l *layout) (ap1, ap2 askFunc)
	// ownError is how long the balancer's own error takes when no member
	// takes a request: 0 for at once (under 100 ms); Caddy retries first.
	ownError time.Duration
}

// errorWithin is the longest a request may take to be the balancer's own
// error, and how the table says it.
func (d frontDoor) errorWithin() (time.Duration, string) {
	if d.ownError == 0 {
		return 100 * time.Millisecond, "at once"
	}
	return d.ownError, "within " + ms(d.ownError)
}

// clientTimeout is the reference's `curl -m 5`: a client gives up after 5 s.
const clientTimeout = 5 * time.Second

// haproxyDoor is haproxy with examples/haproxy/agent-check.cfg, unchanged:
// AP1 on :1972, AP2 on :11972 (JDBC/SuperServer clients).
func haproxyDoor() frontDoor {
	return frontDoor{
		name:       "haproxy agent-check (examples/haproxy/agent-check.cfg)",
		agentFlags: func(t *testing.T) func(*itest.Member) []string { return exampleAgent(t, "haproxy/agent-check.cfg") },
		start: func(t *testing.T, l *layout) (askFunc, askFunc) {
			h := itest.StartHAProxy(t, itest.Example(t, "haproxy/agent-check.cfg"), l.hosts, []string{"HAPROXY_BIND_ADDR=" + l.front})
			for _, s := range [][2]string{{"ap1", "ap1a"}, {"ap2", "ap2a"}} {
				h.WaitServer(t, s[0], s[1], "UP", 10*time.Second)
			}
			for _, s := range [][2]string{{"ap1", "ap1b"}, {"ap2", "ap2b"}} {
				h.WaitServer(t, s[0], s[1], "DOWN", 10*time.Second)
			}
			return itest.TCPAsk(l.front+":1972", clientTimeout), itest.TCPAsk(l.front+":11972", clientTimeout)
		},
	}
}

func TestReferenceScenariosHAProxy(t *testing.T) {
	runReferenceScenarios(t, haproxyDoor())
}

// scenarioRow is one line of the printed comparison.
type scenarioRow struct{ id, scenario, reference, ours string }

// burst sends n requests one after the other and counts who answered.
type burstResult struct {
	by      map[string]int
	failed  int
	slowest time.Duration
	total   time.Duration
	lastErr error
}

func burst(ask askFunc, n int) burstResult {
	r := burstResult{by: map[string]int{}}
	start := time.Now()
	for range n {
		at := time.Now()
		name, err := ask(context.Background())
		took := time.Since(at)
		r.slowest = max(r.slowest, took)
		if err != nil {
			r.failed++
			r.lastErr = err
			continue
		}
		r.by[name]++
	}
	r.total = time.Since(start)
	return r
}

// waitAsk waits until a client request through ask is answered by want.
func waitAsk(t *testing.T, ask askFunc, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		name, err := ask(context.Background())
		if err == nil && name == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not answered by %s within %v: last %q %v", want, d, name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sampleAround samples ask every 10 ms while change runs, for settle after
// it, and returns the samples and when change started.
func sampleAround(t *testing.T, ask askFunc, settle time.Duration, change func() time.Time) ([]itest.Sample, time.Time) {
	t.Helper()
	s := &itest.Sampler{Every: 10 * time.Millisecond, Ask: ask}
	s.Start(settle + 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	t0 := change()
	time.Sleep(settle)
	return s.Stop(), t0
}

// refusedAtOnceAfter returns how long after t0 the balancer began to fail
// every request within fast, and the slowest failure after that.
func refusedAtOnceAfter(samples []itest.Sample, t0 time.Time, fast time.Duration) (after, slowest time.Duration, ok bool) {
	after = -1
	for _, s := range samples {
		if s.At.Before(t0) {
			continue
		}
		if s.Err == nil || s.Took >= fast {
			after = s.At.Sub(t0) + s.Took
		}
	}
	if after < 0 {
		after = 0
	}
	for _, s := range samples {
		if s.At.Sub(t0) > after {
			ok = true
			slowest = max(slowest, s.Took)
		}
	}
	return after, slowest, ok
}

// slowestAfter is the longest request that started at or after t0.
func slowestAfter(samples []itest.Sample, t0 time.Time) time.Duration {
	var d time.Duration
	for _, s := range samples {
		if !s.At.Before(t0) {
			d = max(d, s.Took)
		}
	}
	return d
}

func ms(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
	}
	return d.Round(time.Millisecond).String()
}

// runReferenceScenarios walks the seed's scenarios through d and prints
// what the reference did next to what we did.
func runReferenceScenarios(t *testing.T, d frontDoor) {
	l := startLayoutFlags(t, d.agentFlags(t))
	ap1, ap2 := d.start(t, l)
	waitAsk(t, ap1, "ap1a", 10*time.Second)
	waitAsk(t, ap2, "ap2a", 10*time.Second)

	// AP2 is watched for the whole run: nothing done to AP1 may touch it.
	watch := &itest.Sampler{Every: 50 * time.Millisecond, Ask: ap2}
	watch.Start(2 * time.Minute)
	var rows []scenarioRow

	// 1. ap1a primary, ap1b backup.
	r := burst(ap1, 20)
	if r.by["ap1a"] != 20 {
		t.Errorf("scenario 1: want 20/20 on ap1a, got %v, %d failed (%v)", r.by, r.failed, r.lastErr)
	}
	rows = append(rows, scenarioRow{"1", "ap1a primary, ap1b backup", "all traffic to ap1a",
		fmt.Sprintf("%d/20 requests on ap1a (slowest %s)", r.by["ap1a"], ms(r.slowest))})

	// 2. ap1a stopped, ap1b promoted.
	samples, t0 := sampleAround(t, ap1, 2*time.Second, func() time.Time { return l.set(t, "ap1a", "down", "ap1b", "primary") })
	sw := itest.Analyse(samples, t0, "ap1a", "ap1b")
	if !sw.NewOK || sw.FirstNew > 2*time.Second {
		t.Errorf("scenario 2: %s; want ap1b within 2s", sw)
	}
	r = burst(ap1, 20)
	if r.by["ap1b"] != 20 {
		t.Errorf("scenario 2: after the switch want 20/20 on ap1b, got %v, %d failed (%v)", r.by, r.failed, r.lastErr)
	}
	rows = append(rows, scenarioRow{"2", "ap1a stopped, ap1b promoted",
		"traffic moved to ap1b; ap1a's check hung 5 s (curl -m 5); check.sh: 2.7 s to a new primary, ~6 s still to the old one",
		fmt.Sprintf("first answer from ap1b %s after the stop; %d/%d requests failed meanwhile, the slowest took %s; then %d/20 on ap1b",
			ms(sw.FirstNew), sw.Failed, sw.Total, ms(slowestAfter(samples, t0)), r.by["ap1b"])})

	// 3. Both stopped: the ports refuse (container gone).
	samples, t0 = sampleAround(t, ap1, 4*time.Second, func() time.Time { return l.set(t, "ap1b", "down") })
	fast, fastWords := d.errorWithin()
	after, _, ok := refusedAtOnceAfter(samples, t0, fast)
	r = burst(ap1, 20)
	if !ok || r.failed != 20 || r.slowest >= time.Second {
		t.Errorf("scenario 3: want every request to fail in under 1s: %d/20 failed, slowest %v, refused %s after %v (%v)", r.failed, r.slowest, fastWords, after, ok)
	}
	rows = append(rows, scenarioRow{"3", "both stopped (ports refuse)",
		"every request hung 5 s (curl -m 5), or 504 after 120 s",
		fmt.Sprintf("%d/20 requests got an error, slowest in %s; errors %s from %s after the stop", r.failed, ms(r.slowest), fastWords, ms(after))})

	// 3'. Both stopped behind a live Web Gateway: the ports accept and
	// never answer, which is what made the reference hang. From a working
	// set, so requests are caught in the middle.
	l.set(t, "ap1a", "primary", "ap1b", "backup")
	waitAsk(t, ap1, "ap1a", 5*time.Second)
	samples, t0 = sampleAround(t, ap1, 3*time.Second, func() time.Time { return l.set(t, "ap1a", "hang", "ap1b", "hang") })
	after, _, ok = refusedAtOnceAfter(samples, t0, fast)
	r = burst(ap1, 20)
	if !ok || r.failed != 20 || r.slowest >= time.Second {
		t.Errorf("scenario 3': want every request to fail in under 1s: %d/20 failed, slowest %v, refused %s after %v (%v)", r.failed, r.slowest, fastWords, after, ok)
	}
	rows = append(rows, scenarioRow{"3'", "both hung (stopped behind a live gateway)",
		"what the reference saw: hung 5 s, or 504 after 120 s",
		fmt.Sprintf("requests caught by the hang ended within %s; errors %s from %s after the hang; then %d/20 requests got an error, slowest in %s",
			ms(slowestAfter(samples, t0)), fastWords, ms(after), r.failed, ms(r.slowest))})

	// 4. ap1a back and primary (ap1b stays stopped).
	l.set(t, "ap1b", "down", "ap1a", "down")
	samples, t0 = sampleAround(t, ap1, 2*time.Second, func() time.Time { return l.set(t, "ap1a", "primary") })
	sw = itest.Analyse(samples, t0, "ap1b", "ap1a")
	if !sw.NewOK || sw.FirstNew > 2*time.Second || sw.LastOld >= 0 {
		t.Errorf("scenario 4: %s; want ap1a within 2s and nothing from ap1b", sw)
	}
	rows = append(rows, scenarioRow{"4", "ap1a restarted and primary again",
		"traffic back on ap1a (check.sh rise 2 x inter 2 s: 2-4 s)",
		fmt.Sprintf("first answer from ap1a %s after it became primary", ms(sw.FirstNew))})

	// 5. A hundred requests in a row (the seed reset to ap1a primary, ap1b backup).
	l.set(t, "ap1b", "backup")
	time.Sleep(time.Second) // let ap1b's agent see it: it must stay out
	r = burst(ap1, 100)
	if r.by["ap1a"] != 100 {
		t.Errorf("scenario 5: want 100/100 on ap1a, got %v, %d failed (%v)", r.by, r.failed, r.lastErr)
	}
	rows = append(rows, scenarioRow{"5", "100 requests in a row", "100/100 to ap1a",
		fmt.Sprintf("%d/100 on ap1a, in %s (slowest %s)", r.by["ap1a"], ms(r.total), ms(r.slowest))})

	// AP2 throughout.
	bad, total := 0, 0
	for _, s := range watch.Stop() {
		total++
		if s.Err != nil || s.Member != "ap2a" {
			bad++
		}
	}
	if bad > 0 || total == 0 {
		t.Errorf("AP2 disturbed: %d of %d requests not answered by ap2a", bad, total)
	}
	rows = append(rows, scenarioRow{"AP2", "AP2 throughout", "unaffected",
		fmt.Sprintf("%d/%d requests answered by ap2a", total-bad, total)})

	t.Logf("reference scenarios through %s (agents at %s):\n%s", d.name, strings.Join(fastAgent, " "), scenarioTable(rows))
}

func scenarioTable(rows []scenarioRow) string {
	var b strings.Builder
	b.WriteString("| # | scenario | reference (check.sh, nginx, Web Gateways) | iris-mirror-agent, measured |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.id, r.scenario, r.reference, r.ours)
	}
	return b.String()
}
