package tradeoff

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/latency"
)

// Plan is one evaluation: the latency profile, the balancer, how long and
// how often to simulate, and the seed everything is drawn from.
type Plan struct {
	Profile  latency.Profile
	Balancer Balancer
	Hours    float64 // simulated time per row for the blips
	Trials   int     // failover trials per row and scenario
	Seed     uint64
}

// Quantiles summarise one figure over the trials, in seconds.
type Quantiles struct {
	P50, P99, Max float64
	Never         int // trials in which it did not happen
}

// SwitchStats are the figures of one scenario.
type SwitchStats struct {
	OldGate, OldLB, NewGate, NewLB Quantiles
}

// Row is one setting's figures.
type Row struct {
	Settings Settings
	Blips    Blips
	Estimate float64       // blips per hour the independent-latency model predicts
	Failover []SwitchStats // one per Scenarios entry
}

// Evaluate simulates every setting, in parallel; row i draws from its own
// generator seeded with (plan.Seed, i), so results do not depend on the
// scheduling.
func Evaluate(p Plan, settings []Settings) []Row {
	rows := make([]Row, len(settings))
	work := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				rows[i] = evaluate(p, settings[i], rand.New(rand.NewPCG(p.Seed, uint64(i))))
			}
		}()
	}
	for i := range settings {
		work <- i
	}
	close(work)
	wg.Wait()
	return rows
}

func evaluate(p Plan, s Settings, rng *rand.Rand) Row {
	r := Row{Settings: s, Estimate: Estimate(s, p.Profile)}
	r.Blips = steady(s, p.Profile, rng, time.Duration(p.Hours*float64(time.Hour)))
	for _, sc := range Scenarios {
		var oldGate, oldLB, newGate, newLB []float64
		for range p.Trials {
			sw := failover(s, sc, p.Balancer, p.Profile, rng)
			oldGate, oldLB = append(oldGate, sw.OldGate), append(oldLB, sw.OldLB)
			newGate, newLB = append(newGate, sw.NewGate), append(newLB, sw.NewLB)
		}
		r.Failover = append(r.Failover, SwitchStats{
			OldGate: quantiles(oldGate), OldLB: quantiles(oldLB),
			NewGate: quantiles(newGate), NewLB: quantiles(newLB),
		})
	}
	return r
}

// quantiles summarises v; a NaN (never happened) counts as the worst.
func quantiles(v []float64) Quantiles {
	q := Quantiles{P50: math.NaN(), P99: math.NaN(), Max: math.NaN()}
	if len(v) == 0 {
		return q
	}
	s := slices.Clone(v)
	for i, x := range s {
		if math.IsNaN(x) {
			q.Never++
			s[i] = math.Inf(1)
		}
	}
	slices.Sort(s)
	at := func(p float64) float64 {
		x := s[min(int(math.Ceil(p*float64(len(s))))-1, len(s)-1)]
		if math.IsInf(x, 1) {
			return math.NaN()
		}
		return x
	}
	q.P50, q.P99, q.Max = at(0.5), at(0.99), at(1)
	return q
}

// Grid is every interval with every lease longer than it, the timeout
// the rest of the lease (the default lease is interval + timeout).
func Grid(intervals, leases []time.Duration, rise, fall int) []Settings {
	var out []Settings
	for _, i := range intervals {
		for _, l := range leases {
			if l > i {
				out = append(out, Settings{Interval: i, Timeout: l - i, Rise: rise, Fall: fall})
			}
		}
	}
	return out
}

// Targets are what the defaults must meet with the balancer of the plan.
type Targets struct {
	Switch       time.Duration // planned switch: new primary routed, old one not, within this (p99)
	Hang         time.Duration // a hung primary routed around within this (p99)
	BlipsPerHour float64       // at most this many, by the estimate, and none seen
	// Spare is the share of Switch and Hang the pick keeps unused, for
	// what the simulation leaves out (connection and check times, a busy
	// machine, haproxy's own timers).
	Spare float64
}

// Goal is issue 12's: with haproxy checking every 250 ms, a planned switch
// within 0.5 s each way, a hang within 1 s, and no blip from the jitter,
// read as fewer than one per member and year.
var Goal = Targets{Switch: 500 * time.Millisecond, Hang: time.Second, BlipsPerHour: 1 / (365.25 * 24), Spare: 0.1}

// spared is t with the spare taken off the time targets.
func (t Targets) spared() Targets {
	k := 1 - t.Spare
	t.Switch = time.Duration(float64(t.Switch) * k)
	t.Hang = time.Duration(float64(t.Hang) * k)
	t.Spare = 0
	return t
}

// scenarioIndex finds a scenario by the state the old primary goes to.
func scenarioIndex(name string) int {
	return slices.IndexFunc(Scenarios, func(s Scenario) bool { return s.Name == name })
}

// MeetsFailover reports whether the balancer sees the planned switch and
// the hang within the targets (p99 of the trials).
func (r Row) MeetsFailover(t Targets) bool {
	sw, hang := r.Failover[scenarioIndex("planned switch")], r.Failover[scenarioIndex("primary hang")]
	le := func(x float64, d time.Duration) bool { return !math.IsNaN(x) && x <= d.Seconds() }
	return le(sw.NewLB.P99, t.Switch) && le(sw.OldLB.P99, t.Switch) && le(hang.OldLB.P99, t.Hang)
}

// MeetsBlips reports whether no blip was seen and the estimate is within
// the target.
func (r Row) MeetsBlips(t Targets) bool {
	return r.Blips.Count == 0 && r.Estimate <= t.BlipsPerHour
}

// costs are what a row is judged on, each the lower the better: the load
// on IRIS, the blip rate, and how long the balancer takes to see a planned
// switch (the later of the two members) and a hang (p99).
func (r Row) costs() [4]float64 {
	sw, hang := r.Failover[scenarioIndex("planned switch")], r.Failover[scenarioIndex("primary hang")]
	worst := func(x float64) float64 {
		if math.IsNaN(x) {
			return math.Inf(1)
		}
		return x
	}
	return [4]float64{
		r.Settings.ProbeRate(),
		max(r.Estimate, float64(r.Blips.Count)/r.Blips.Hours),
		worst(max(sw.NewLB.P99, sw.OldLB.P99)),
		worst(hang.OldLB.P99),
	}
}

// Front marks the rows no other row beats: none is as good in every cost
// and better in one.
func Front(rows []Row) []bool {
	out := make([]bool, len(rows))
	for i := range rows {
		out[i] = true
		ci := rows[i].costs()
		for j := range rows {
			cj := rows[j].costs()
			if i != j && dominates(cj, ci) {
				out[i] = false
				break
			}
		}
	}
	return out
}

func dominates(a, b [4]float64) bool {
	better := false
	for k := range a {
		if a[k] > b[k] {
			return false
		}
		if a[k] < b[k] {
			better = true
		}
	}
	return better
}

// Pick chooses the defaults: of the rows on the front that meet every
// target with the spare unused, the one that asks IRIS least often, then
// the one that sees a hang soonest. It returns -1 if none does.
func Pick(rows []Row, t Targets) int {
	front := Front(rows)
	best := -1
	for i, r := range rows {
		if !front[i] || !r.MeetsFailover(t.spared()) || !r.MeetsBlips(t) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		ci, cb := r.costs(), rows[best].costs()
		if ci[0] < cb[0] || (ci[0] == cb[0] && ci[3] < cb[3]) {
			best = i
		}
	}
	return best
}
