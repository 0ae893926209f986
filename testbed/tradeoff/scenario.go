package tradeoff

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/latency"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// epoch is where simulated time starts; only differences matter.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Blips is what a member that stays primary looked like to /primary.
type Blips struct {
	Hours   float64       // simulated time
	Count   int           // spans during which /primary failed, after the first pass
	Down    time.Duration // their total length
	Longest time.Duration
	Rounds  counts
}

// PerHour is the blip rate.
func (b Blips) PerHour() float64 { return float64(b.Count) / b.Hours }

// steady runs an agent beside a member that stays primary for d, IRIS
// answering with latencies drawn from prof, and counts the blips.
func steady(s Settings, prof latency.Profile, rng *rand.Rand, d time.Duration) Blips {
	var (
		b                Blips
		seen, inBlip     bool
		blipStart, until = time.Time{}, epoch.Add(d)
	)
	onChange := func(c change) {
		switch {
		case c.ok && inBlip:
			inBlip = false
			b.Down += c.at.Sub(blipStart)
			b.Longest = max(b.Longest, c.at.Sub(blipStart))
		case c.ok:
			seen = true
		case seen:
			inBlip, blipStart = true, c.at
			b.Count++
		}
	}
	phase := time.Duration(rng.Int64N(int64(s.Interval)))
	a := newAgent(s, iris{before: simulator.Primary}, func() time.Duration { return prof.Sample(rng) }, epoch, epoch.Add(phase), onChange)
	a.runUntil(until)
	if inBlip {
		b.Down += until.Sub(blipStart)
		b.Longest = max(b.Longest, until.Sub(blipStart))
	}
	b.Hours, b.Rounds = d.Hours(), a.counts
	return b
}

// Scenario is a failover: at a random instant the primary moves to
// Old and, at the same instant, the backup is promoted.
type Scenario struct {
	Name string
	Old  simulator.State
}

// Scenarios are the benchsuite's failover scenarios.
var Scenarios = []Scenario{
	{"planned switch", simulator.Backup},
	{"primary down", simulator.Down},
	{"primary hang", simulator.Hang},
}

// Balancer is how often haproxy asks: the agent-check every AgentInter
// (a "down" takes the server out at once, an "up" is needed to bring it
// back) and, if CheckInter is set, a regular check of /primary that a
// server coming back must also pass (agent-check.cfg: downinter 250ms,
// rise 1). Each check runs at its own random phase.
type Balancer struct {
	AgentInter, CheckInter time.Duration
}

// Switch is one failover: how long after the change (seconds) the old
// primary stopped being routable and the new one became so, as the gate
// (which follows every snapshot and the lease at once) and as haproxy
// see it. NaN: never, within the trial.
type Switch struct {
	OldGate, OldLB, NewGate, NewLB float64
}

const warmUp = 3 * time.Second

// failover runs one trial of sc: an agent beside each member, their rounds
// at independent random phases, the change at a random instant after
// warm-up.
func failover(s Settings, sc Scenario, bal Balancer, prof latency.Profile, rng *rand.Rand) Switch {
	h := epoch.Add(warmUp + time.Duration(rng.Int64N(int64(time.Second))))
	until := h.Add(4*s.LeaseOrDefault() + s.Timeout + time.Second)
	lat := func() time.Duration { return prof.Sample(rng) }
	var oldT, newT []change
	run := func(w iris, into *[]change) {
		phase := time.Duration(rng.Int64N(int64(s.Interval)))
		a := newAgent(s, w, lat, epoch, epoch.Add(phase), func(c change) { *into = append(*into, c) })
		a.runUntil(until)
	}
	run(iris{before: simulator.Primary, after: sc.Old, at: h}, &oldT)
	run(iris{before: simulator.Backup, after: simulator.Primary, at: h}, &newT)

	sw := Switch{OldGate: math.NaN(), OldLB: math.NaN(), NewGate: math.NaN(), NewLB: math.NaN()}
	if n := len(oldT); n > 0 && !oldT[n-1].ok {
		sw.OldGate = secondsAfter(oldT[n-1].at, h)
	}
	if up, ok := firstTrue(newT, h); ok {
		sw.NewGate = secondsAfter(up, h)
	}
	// haproxy: the old server goes DOWN at the last agent-check that
	// turned it down; the new one comes UP once the agent-check and the
	// regular check have each seen it pass.
	ticks := func(every time.Duration) func(yield func(time.Time) bool) {
		first := epoch.Add(time.Duration(rng.Int64N(int64(every))))
		return func(yield func(time.Time) bool) {
			for t := first; !t.After(until); t = t.Add(every) {
				if !yield(t) {
					return
				}
			}
		}
	}
	var lastDown time.Time
	was := false
	for t := range ticks(bal.AgentInter) {
		ok := valueAt(oldT, t)
		if was && !ok {
			lastDown = t
		}
		was = ok
	}
	if !was && !lastDown.IsZero() {
		sw.OldLB = secondsAfter(lastDown, h)
	}
	up := firstTick(ticks(bal.AgentInter), newT, h)
	if bal.CheckInter > 0 {
		up = later(up, firstTick(ticks(bal.CheckInter), newT, h))
	}
	if !up.IsZero() {
		sw.NewLB = secondsAfter(up, h)
	}
	return sw
}

// secondsAfter is t - h in seconds, 0 if t is before h.
func secondsAfter(t, h time.Time) float64 { return max(t.Sub(h), 0).Seconds() }

// valueAt is the verdict at t of a timeline that starts false.
func valueAt(tl []change, t time.Time) bool {
	i, found := slices.BinarySearchFunc(tl, t, func(c change, t time.Time) int { return c.at.Compare(t) })
	if found {
		// Changes at one instant: the last one holds.
		for i+1 < len(tl) && tl[i+1].at.Equal(t) {
			i++
		}
		return tl[i].ok
	}
	return i > 0 && tl[i-1].ok
}

// firstTrue is the first change to true at or after h.
func firstTrue(tl []change, h time.Time) (time.Time, bool) {
	for _, c := range tl {
		if c.ok && !c.at.Before(h) {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// firstTick is the first tick at or after h at which the timeline is true
// (zero if none).
func firstTick(ticks func(func(time.Time) bool), tl []change, h time.Time) time.Time {
	for t := range ticks {
		if !t.Before(h) && valueAt(tl, t) {
			return t
		}
	}
	return time.Time{}
}

// later is the later of two instants, zero if either is zero.
func later(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if a.After(b) {
		return a
	}
	return b
}

// Estimate is the blip rate an independent-latency model predicts: a
// blip starts when a round answers in time and none of the rounds that
// start within its lease answers before the lease ends (the k-th one
// needs lat < lease - k*interval). A round that times out is observed at
// interval + timeout after the one before it, so the effective lease is
// the shorter of the two.
func Estimate(s Settings, prof latency.Profile) float64 {
	lease := min(s.LeaseOrDefault(), s.Interval+s.Timeout)
	p := 1 - prof.AtLeast(s.Timeout)
	for k := time.Duration(1); k*s.Interval < lease; k++ {
		p *= prof.AtLeast(lease - k*s.Interval)
	}
	return p * s.ProbeRate() * 3600
}
