//go:build soak

package integration

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// The soak: haproxy (examples/haproxy/agent-check.cfg, gated) and nginx
// (examples/nginx/stream-gate.conf) in front of mirror set AP1, clients
// connecting through both all along, and at random moments (seeded; the
// seed is printed) planned switches, stopped and hung primaries, agent
// restarts, haproxy reloads and nginx reloads. It counts what the first
// law is about: connections that reached a non-primary after its gate
// closed (must be 0), those that did during its agent's poll, client
// errors by cause and by the event before them, and time without a
// primary. Not in the default run:
//
//	go test -tags soak -run TestSoak -timeout 30m -v ./testbed/integration/ [-soak.duration 10m] [-soak.seed N]

var (
	soakDuration = flag.Duration("soak.duration", 10*time.Minute, "how long the soak's events run")
	soakSeed     = flag.Int64("soak.seed", 0, "seed of the soak's events (0: from the clock)")
)

// soakEvent is one thing the soak did, when it began.
type soakEvent struct {
	at   time.Time
	kind string
}

// soakRun is the soak's state: the members' states as it set them, the
// agents it restarted, what it did.
type soakRun struct {
	t      *testing.T
	rng    *rand.Rand
	l      *layout
	h      *itest.HAProxy
	n      *itest.Nginx
	flags  func(m *itest.Member) []string
	state  map[string]string
	logs   []string           // every agent log, restarted ones too
	kills  itest.GateTimeline // gates closed by killing their agent
	events []soakEvent
	// primaryless are the periods with no member in state primary.
	primaryless  []time.Duration
	noPrimarySet time.Time
}

var soakMembers = []string{"ap1a", "ap1b"}

func (r *soakRun) primary() string {
	for _, m := range soakMembers {
		if r.state[m] == "primary" {
			return m
		}
	}
	return ""
}

func (r *soakRun) other(m string) string {
	if m == "ap1a" {
		return "ap1b"
	}
	return "ap1a"
}

// set changes members in order and keeps the time without a primary.
func (r *soakRun) set(pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		r.l.members[pairs[i]].Set(r.t, pairs[i+1])
		r.state[pairs[i]] = pairs[i+1]
		switch p := r.primary(); {
		case p == "" && r.noPrimarySet.IsZero():
			r.noPrimarySet = time.Now()
		case p != "" && !r.noPrimarySet.IsZero():
			r.primaryless = append(r.primaryless, time.Since(r.noPrimarySet))
			r.noPrimarySet = time.Time{}
		}
	}
}

func (r *soakRun) pause(lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(r.rng.Int64N(int64(hi-lo)+1)))
}

// step picks one event among those that apply and runs it.
func (r *soakRun) step() {
	p := r.primary()
	var out []string
	for _, m := range soakMembers {
		if r.state[m] == "down" || r.state[m] == "hang" {
			out = append(out, m)
		}
	}
	kinds := []string{"agent restart", "haproxy reload", "nginx reload"}
	if p != "" && r.state[r.other(p)] == "backup" {
		kinds = append(kinds, "planned switch", "primary stopped", "primary hung")
	}
	if len(out) > 0 {
		kinds = append(kinds, "member back")
	}
	kind := kinds[r.rng.IntN(len(kinds))]
	r.events = append(r.events, soakEvent{at: time.Now(), kind: kind})
	switch kind {
	case "planned switch":
		r.set(p, "backup", r.other(p), "primary")
	case "primary stopped", "primary hung":
		r.set(p, map[string]string{"primary stopped": "down", "primary hung": "hang"}[kind])
		r.pause(0, 1500*time.Millisecond) // IRIS's own takeover time
		r.set(r.other(p), "primary")
	case "member back":
		m := out[r.rng.IntN(len(out))]
		if p == "" {
			r.set(m, "primary")
		} else {
			r.set(m, "backup")
		}
	case "agent restart":
		r.restartAgent(soakMembers[r.rng.IntN(len(soakMembers))])
	case "haproxy reload":
		r.h.Reload(r.t, "")
	case "nginx reload":
		if err := r.n.Reload(); err != nil {
			r.t.Fatalf("nginx reload: %v", err)
		}
	}
}

// restartAgent stops a member's agent (SIGTERM or SIGKILL, at random) and
// starts it again a moment later. A killed agent logs nothing: its gate
// closed when the process ended, which the timeline is told.
func (r *soakRun) restartAgent(name string) {
	a, m := r.l.agents[name], r.l.members[name]
	if r.rng.IntN(2) == 0 {
		_ = a.Proc.Signal(syscall.SIGTERM)
		if a.Proc.Wait(5*time.Second) < 0 {
			a.Proc.Kill()
		}
	} else {
		a.Proc.Kill()
	}
	r.kills.Add(itest.GateEvent{At: time.Now(), Member: name, Listen: m.SuperServerGateAddr(), Open: false})
	r.pause(0, time.Second)
	r.l.agents[name] = itest.StartAgent(r.t, m, r.flags(m)...)
	r.logs = append(r.logs, r.l.agents[name].Proc.Log)
}

func TestSoak(t *testing.T) {
	seed := *soakSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("soak: seed %d (rerun with -soak.seed %d), events for %v, agents at %s", seed, seed, *soakDuration, strings.Join(noCheckAgent, " "))
	flags := func(m *itest.Member) []string {
		return append(itest.ExampleAgentFlags(t, "haproxy/agent-check.cfg", m), noCheckAgent...)
	}
	l := startLayoutFlags(t, flags)
	r := &soakRun{t: t, rng: rand.New(rand.NewPCG(uint64(seed), 0)), l: l, flags: flags,
		state: map[string]string{"ap1a": "primary", "ap1b": "backup"}, logs: l.agentLogs()}
	r.h = itest.StartHAProxy(t, itest.Example(t, "haproxy/agent-check.cfg"), "", l.haproxyEnv())
	// nginx from the example with its listen lines moved to this test's
	// address (+20000), so ten minutes hold no machine-wide port.
	r.n = itest.StartNginxOn(t, itest.Example(t, "nginx/stream-gate.conf"), l.hosts, l.front, 20000)
	balancers := map[string]string{"haproxy agent-check.cfg": l.front + ":1972", "nginx stream-gate.conf": l.front + ":41972"}
	samplers := map[string]*itest.Sampler{}
	for name, addr := range balancers {
		waitRouted(t, addr, "ap1a", 10*time.Second)
		samplers[name] = &itest.Sampler{Every: 10 * time.Millisecond, Ask: itest.WhoAsk(addr, 3*time.Second)}
		samplers[name].Start(*soakDuration + 2*time.Minute)
	}

	start := time.Now()
	for time.Since(start) < *soakDuration {
		r.step()
		r.pause(500*time.Millisecond, 3*time.Second)
	}
	if !r.noPrimarySet.IsZero() {
		r.primaryless = append(r.primaryless, time.Since(r.noPrimarySet))
	}
	time.Sleep(noCheckSeen) // the last event's connections end

	tl, err := itest.ReadGateTimeline(r.logs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.kills {
		tl.Add(k)
	}
	t.Logf("soak: %v, %d events: %s", time.Since(start).Round(time.Second), len(r.events), r.eventCounts())
	t.Logf("soak: time without a primary (members' states): %s", durations(r.primaryless))
	names := []string{"haproxy agent-check.cfg", "nginx stream-gate.conf"}
	for _, name := range names {
		samples := samplers[name].Stop()
		rc := countReach(samples, tl)
		t.Logf("soak: %s: %s; longest time without an answer %v", name, rc, longestGap(samples).Round(time.Millisecond))
		t.Logf("soak: %s: failures by the event before them: %s", name, r.errorsByEvent(samples))
		for i, v := range rc.violations {
			if i < 10 {
				t.Errorf("first law broken through %s: %s", name, v)
			}
		}
		if len(rc.violations) > 0 {
			t.Errorf("%s: %d connections reached a non-primary after its gate closed, want 0", name, len(rc.violations))
		}
	}
}

func (r *soakRun) eventCounts() string {
	m := map[string]int{}
	for _, e := range r.events {
		m[e.kind]++
	}
	return countsOf(m)
}

// errorsByEvent counts failed connections by the kind of the last event
// begun before them, and their cause.
func (r *soakRun) errorsByEvent(samples []itest.Sample) string {
	m := map[string]int{}
	for _, s := range samples {
		if s.Err == nil {
			continue
		}
		i := sort.Search(len(r.events), func(i int) bool { return r.events[i].at.After(s.At) }) - 1
		kind := "before any event"
		if i >= 0 {
			kind = r.events[i].kind
		}
		m[kind+" / "+errCause(s.Err)]++
	}
	return countsOf(m)
}

// longestGap is the longest time between two answered connections.
func longestGap(samples []itest.Sample) time.Duration {
	var last time.Time
	var gap time.Duration
	for _, s := range samples {
		if s.Err != nil {
			continue
		}
		if !last.IsZero() {
			gap = max(gap, s.At.Sub(last))
		}
		last = s.At
	}
	return gap
}

func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "never"
	}
	var total, longest time.Duration
	for _, d := range ds {
		total += d
		longest = max(longest, d)
	}
	return fmt.Sprintf("%d times, %v in all, the longest %v", len(ds), total.Round(time.Millisecond), longest.Round(time.Millisecond))
}
