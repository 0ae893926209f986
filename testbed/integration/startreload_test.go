package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// haproxy's own blind moments: a new process (a start, or a reload, which
// is a new process too) has every server UP until its first check. With
// clients connecting all along, count the connections answered by the
// backup during each start and reload: with the recommended layout (the
// members' gates) there must be none; with the direct one the test
// measures how many there are, with and without server-state-file.

// startReloadEvery is how often a client connects: 200 connections a
// second, the rate at which the issue saw 170-320 reach the backup per
// start.
const startReloadEvery = 5 * time.Millisecond

// haproxyCycle is one start or reload (from the stop before a cold start,
// or from the reload) and the connections begun during it.
type haproxyCycle struct {
	what    string
	samples []itest.Sample
}

// startReloadRig is the reference layout with agents as example says,
// haproxy running it, and clients connecting to AP1 all along.
type startReloadRig struct {
	t     *testing.T
	l     *layout
	h     *itest.HAProxy
	s     *itest.Sampler
	marks []time.Time
	whats []string
}

func newStartReloadRig(t *testing.T, example string, env ...string) *startReloadRig {
	l := startExampleLayout(t, example)
	h := itest.StartHAProxy(t, itest.Example(t, example), "", append(l.haproxyEnv(), env...))
	r := &startReloadRig{t: t, l: l, h: h}
	r.settled()
	waitRouted(t, l.front+":1972", "ap1a", 5*time.Second)
	r.s = &itest.Sampler{Every: startReloadEvery, Ask: itest.WhoAsk(l.front+":1972", 3*time.Second)}
	r.s.Start(5 * time.Minute)
	return r
}

// settled waits until the new haproxy has checked both AP1 servers (the
// backup DOWN, the primary UP), then lets clients run a little longer.
func (r *startReloadRig) settled() {
	r.h.WaitServer(r.t, "ap1", "ap1b", "DOWN", 10*time.Second)
	r.h.WaitServer(r.t, "ap1", "ap1a", "UP", 10*time.Second)
	time.Sleep(4 * noCheckInterval)
}

func (r *startReloadRig) mark(what string) {
	r.marks, r.whats = append(r.marks, time.Now()), append(r.whats, what)
}

// coldStart stops haproxy, leaves clients refused for a moment, starts it.
func (r *startReloadRig) coldStart() {
	r.mark("cold start")
	r.h.Stop()
	time.Sleep(200 * time.Millisecond)
	r.h.Restart(r.t)
	r.settled()
}

// reload reloads haproxy with -sf, saving the server state first if
// stateFile is set.
func (r *startReloadRig) reload(what, stateFile string) {
	r.mark(what)
	r.h.Reload(r.t, stateFile)
	r.settled()
}

// cycles stops the clients and splits their connections by cycle.
func (r *startReloadRig) cycles() []haproxyCycle {
	samples := r.s.Stop()
	var out []haproxyCycle
	for i, from := range r.marks {
		var to time.Time
		if i+1 < len(r.marks) {
			to = r.marks[i+1]
		}
		out = append(out, haproxyCycle{what: r.whats[i], samples: between(samples, from, to)})
	}
	return out
}

// tally counts a cycle's connections: those answered by the backup, and
// the failures other than haproxy not listening (stopped for a cold start).
type tally struct {
	total, backup, failed, notListening int
	causes                              map[string]int
	// window: from the first connection haproxy answered to the last one
	// the backup answered, the longest of the cycles added.
	window time.Duration
}

func tallyOf(samples []itest.Sample) tally {
	tl := tally{causes: map[string]int{}}
	var first time.Time
	for _, s := range samples {
		if s.Err != nil {
			cause := errCause(s.Err)
			if cause == "refused by the balancer (not listening)" {
				tl.notListening++
				continue
			}
			tl.total++
			tl.failed++
			tl.causes[cause]++
			continue
		}
		tl.total++
		if first.IsZero() {
			first = s.At
		}
		if member, _ := itest.SplitWho(s.Member); member == "ap1b" {
			tl.backup++
			tl.window = s.At.Sub(first)
		}
	}
	return tl
}

func (tl tally) String() string {
	window := ""
	if tl.backup > 0 {
		window = fmt.Sprintf(" (the last %v after haproxy's first answer)", tl.window.Round(time.Millisecond))
	}
	return fmt.Sprintf("%d connections to the backup%s, %d/%d failed (%s), %d refused while no haproxy listened",
		tl.backup, window, tl.failed, tl.total, countsOf(tl.causes), tl.notListening)
}

func (tl *tally) add(o tally) {
	tl.total, tl.backup, tl.failed, tl.notListening = tl.total+o.total, tl.backup+o.backup, tl.failed+o.failed, tl.notListening+o.notListening
	tl.window = max(tl.window, o.window)
	for k, v := range o.causes {
		tl.causes[k] += v
	}
}

// TestHAProxyStartReloadGated: the recommended examples/haproxy/
// agent-check.cfg, 3 cold starts and 3 reloads under continuous client
// traffic: no connection reaches the backup, fewer than 1% fail.
func TestHAProxyStartReloadGated(t *testing.T) {
	r := newStartReloadRig(t, "haproxy/agent-check.cfg")
	for range 3 {
		r.coldStart()
	}
	for range 3 {
		r.reload("reload (haproxy -sf)", "")
	}
	all := tally{causes: map[string]int{}}
	for _, c := range r.cycles() {
		tl := tallyOf(c.samples)
		t.Logf("agent-check.cfg (gated), %s: %s", c.what, tl)
		all.add(tl)
	}
	t.Logf("agent-check.cfg (gated), agents at %s, clients every %v: 3 cold starts + 3 reloads: %s",
		strings.Join(fastAgent, " "), startReloadEvery, all)
	if all.backup != 0 {
		t.Errorf("%d connections reached the backup through haproxy's starts and reloads, want 0", all.backup)
	}
	if all.total == 0 || float64(all.failed) >= 0.01*float64(all.total) {
		t.Errorf("%d of %d connections failed, want fewer than 1%%", all.failed, all.total)
	}
}

// TestHAProxyStartReloadDirect measures examples/haproxy/agent-check-direct.cfg:
// what reaches the backup at a cold start, at a reload, and at a reload
// with the server state saved first (docs/haproxy.md quotes it). It
// requires only what server-state-file is for: a reload with the state
// saved sends nothing to the backup.
func TestHAProxyStartReloadDirect(t *testing.T) {
	state := filepath.Join(t.TempDir(), "server-state")
	r := newStartReloadRig(t, "haproxy/agent-check-direct.cfg", "HAPROXY_SERVER_STATE_FILE="+state)
	for range 3 {
		r.coldStart()
	}
	for range 3 {
		if err := os.Remove(state); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		r.reload("reload (haproxy -sf)", "")
	}
	for range 3 {
		r.reload("reload after show servers state", state)
	}
	by := map[string]*tally{}
	var order []string
	for _, c := range r.cycles() {
		tl := tallyOf(c.samples)
		t.Logf("agent-check-direct.cfg, %s: %s", c.what, tl)
		if by[c.what] == nil {
			by[c.what] = &tally{causes: map[string]int{}}
			order = append(order, c.what)
		}
		by[c.what].add(tl)
	}
	for _, what := range order {
		t.Logf("agent-check-direct.cfg, agents at %s, clients every %v, 3 x %s: %s", strings.Join(fastAgent, " "), startReloadEvery, what, by[what])
	}
	if tl := by["reload after show servers state"]; tl.backup != 0 {
		t.Errorf("with the server state saved before each reload, %d connections reached the backup, want 0", tl.backup)
	}
}
