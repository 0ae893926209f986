package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/gate"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// A balancer that never checks: it sends each connection to either member
// in turn, whatever their roles, and only the members' gates keep clients
// off a member that is not the primary. Through a planned switch, a
// stopped primary, a hung primary and both members stopped, no connection
// may reach a non-primary once that member's agent has seen the change
// (its gate's "gate closed" line), and once the agents have seen it every
// connection must reach the primary, or fail at once when there is none.

// The agents' timings in these tests; every bound below derives from them.
const (
	noCheckInterval = 250 * time.Millisecond
	noCheckTimeout  = 500 * time.Millisecond
	// A gate closes within the poll that sees the change: the change may
	// land just after a round began (one interval), the next round takes
	// up to the timeout; one more interval for a busy machine.
	noCheckSeen = 2*noCheckInterval + noCheckTimeout
	// What the balancers' examples allow a connect (timeout connect,
	// proxy_connect_timeout): with nothing to reach, a client's error
	// comes within it.
	noCheckFailFast = 500 * time.Millisecond
)

var noCheckAgent = []string{"--interval", noCheckInterval.String(), "--timeout", noCheckTimeout.String()}

// haproxyNoCheckConfig is examples/haproxy/agent-check.cfg with every check
// taken out: the same frontends, gates, retries and redispatch, and a
// balancer that never asks anyone.
func haproxyNoCheckConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(itest.Example(t, "haproxy/agent-check.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "option httpchk"), strings.HasPrefix(trimmed, "http-check"):
			continue
		case strings.HasPrefix(trimmed, "default-server"):
			line = "    default-server init-addr last,libc,none"
		}
		out = append(out, line)
	}
	cfg := strings.Join(out, "\n")
	if regexp.MustCompile(`(?m)^[^#]*\b(check|agent-check|httpchk)\b`).MatchString(cfg) {
		t.Fatalf("checks left in the no-check configuration:\n%s", cfg)
	}
	path := filepath.Join(t.TempDir(), "no-check.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNoCheckBalancerHAProxy(t *testing.T) {
	runNoCheck(t, "haproxy, agent-check.cfg without any check (round robin)", func(t *testing.T, l *layout) string {
		itest.StartHAProxy(t, haproxyNoCheckConfig(t), "", l.haproxyEnv())
		return l.front + ":1972"
	})
}

// nginx's stream example already never checks: max_fails=0 makes it try
// every member for every connection and remember nothing.
func TestNoCheckBalancerNginx(t *testing.T) {
	runNoCheck(t, "nginx, stream-gate.conf (max_fails=0)", func(t *testing.T, l *layout) string {
		itest.StartNginx(t, itest.Example(t, "nginx/stream-gate.conf"), l.hosts)
		return l.front + ":21972"
	})
}

// noCheckStep is one change and what must follow once the agents saw it.
type noCheckStep struct {
	name          string
	pairs         []string // member, state, ... (demote first)
	closes, opens string   // the gates that must close, open ("" for none)
	primary       string   // who serves after; "" when nobody does
}

var noCheckSteps = []noCheckStep{
	{"planned switch", []string{"ap1a", "backup", "ap1b", "primary"}, "ap1a", "ap1b", "ap1b"},
	{"switch back", []string{"ap1b", "backup", "ap1a", "primary"}, "ap1b", "ap1a", "ap1a"},
	{"primary down, backup promoted", []string{"ap1a", "down", "ap1b", "primary"}, "ap1a", "ap1b", "ap1b"},
	{"ap1a back as primary", []string{"ap1b", "backup", "ap1a", "primary"}, "ap1b", "ap1a", "ap1a"},
	{"primary hang (no primary)", []string{"ap1a", "hang"}, "ap1a", "", ""},
	{"backup promoted after the hang", []string{"ap1b", "primary"}, "", "ap1b", "ap1b"},
	{"ap1a back as primary after the hang", []string{"ap1b", "backup", "ap1a", "primary"}, "ap1b", "ap1a", "ap1a"},
	{"both down", []string{"ap1a", "down", "ap1b", "down"}, "ap1a", "", ""},
	{"ap1a back as primary", []string{"ap1a", "primary", "ap1b", "backup"}, "", "ap1a", "ap1a"},
}

// runNoCheck walks noCheckSteps with client connections every 5 ms through
// the balancer start runs, and counts them against the gates' timeline.
func runNoCheck(t *testing.T, name string, start func(t *testing.T, l *layout) string) {
	l := startLayoutFlags(t, func(m *itest.Member) []string {
		return append(itest.ExampleAgentFlags(t, "nginx/stream-gate.conf", m), noCheckAgent...)
	})
	addr := start(t, l)
	waitRouted(t, addr, "ap1a", 10*time.Second)
	s := &itest.Sampler{Every: 5 * time.Millisecond, Ask: itest.WhoAsk(addr, 3*time.Second)}
	s.Start(3 * time.Minute)
	gateOf := func(m string) (string, string) {
		return l.agents[m].HTTPAddr(), l.members[m].SuperServerGateAddr()
	}
	starts := make([]time.Time, len(noCheckSteps))
	for i, st := range noCheckSteps {
		starts[i] = l.set(t, st.pairs...)
		// Pace the test from the agents' /status; what counts is read
		// from their logs afterwards.
		if st.closes != "" {
			http, listen := gateOf(st.closes)
			itest.WaitGate(t, http, listen, noCheckSeen+time.Second, "closed", func(g gate.Stats) bool { return g.State == "closed" })
		}
		if st.opens != "" {
			http, listen := gateOf(st.opens)
			itest.WaitGate(t, http, listen, noCheckSeen+time.Second, "open", func(g gate.Stats) bool { return g.State == "open" })
		}
		time.Sleep(4 * noCheckInterval) // traffic after the agents saw it
	}
	samples := s.Stop()
	tl, err := itest.ReadGateTimeline(l.agentLogs()...)
	if err != nil {
		t.Fatal(err)
	}

	all := countReach(samples, tl)
	t.Logf("%s, agents at %s: %s", name, strings.Join(noCheckAgent, " "), all)
	for _, v := range all.violations {
		t.Errorf("first law broken: %s", v)
	}
	for i, st := range noCheckSteps {
		var end time.Time
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		seen, ok := stepSeen(t, tl, st, starts[i])
		if !ok {
			continue
		}
		poll, after := countReach(between(samples, starts[i], seen), tl), endedBefore(between(samples, seen, end), end)
		t.Logf("  %s: agents saw it after %v; meanwhile %s", st.name, seen.Sub(starts[i]).Round(time.Millisecond), poll)
		checkAfterSeen(t, st, after)
	}
}

// stepSeen is when the agents had seen step st begun at t0: the last of
// the gate events it expects, from the agents' logs.
func stepSeen(t *testing.T, tl itest.GateTimeline, st noCheckStep, t0 time.Time) (time.Time, bool) {
	t.Helper()
	seen := t0
	for _, g := range []struct {
		member string
		open   bool
	}{{st.closes, false}, {st.opens, true}} {
		if g.member == "" {
			continue
		}
		at, ok := tl.First(g.member, gatePort, g.open, t0)
		if !ok {
			t.Errorf("%s: no %s gate event for %s in its agent's log", st.name, map[bool]string{true: "open", false: "closed"}[g.open], g.member)
			return time.Time{}, false
		}
		if d := at.Sub(t0); d > noCheckSeen {
			t.Errorf("%s: %s's gate changed %v after the member did, want within %v", st.name, g.member, d, noCheckSeen)
		}
		if at.After(seen) {
			seen = at
		}
	}
	return seen, true
}

// checkAfterSeen: once the agents saw the step, every connection reaches
// the primary, or, with none, fails at once.
func checkAfterSeen(t *testing.T, st noCheckStep, after []itest.Sample) {
	t.Helper()
	if len(after) == 0 {
		t.Errorf("%s: no connection after the agents saw it", st.name)
		return
	}
	bad := 0
	for _, s := range after {
		member, state := itest.SplitWho(s.Member)
		switch {
		case st.primary != "" && (s.Err != nil || member != st.primary || state != "primary"):
			bad++
			if bad <= 3 {
				t.Errorf("%s: a connection after the agents saw it got %q %v (took %v), want %s", st.name, s.Member, s.Err, s.Took, st.primary)
			}
		case st.primary == "" && (s.Err == nil || s.Took > noCheckFailFast):
			bad++
			if bad <= 3 {
				t.Errorf("%s: with no primary, a connection got %q %v after %v, want an error within %v", st.name, s.Member, s.Err, s.Took, noCheckFailFast)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d connections after the agents saw it went wrong", st.name, bad, len(after))
	}
}

// endedBefore keeps the samples that ended before end (the next change:
// a connection still open then is the next step's); a zero end keeps all.
func endedBefore(samples []itest.Sample, end time.Time) []itest.Sample {
	var out []itest.Sample
	for _, s := range samples {
		if end.IsZero() || s.At.Add(s.Took).Before(end) {
			out = append(out, s)
		}
	}
	return out
}
