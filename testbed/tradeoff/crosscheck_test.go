package tradeoff

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/monitor"
	"github.com/irismirror/iris-mirror-agent/probe"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// crossLatencies is a latency per round (ms) at interval 200ms, timeout
// 600ms, lease 800ms, rise 2, fall 1. Quick answers take 100 ms, so that
// answers land between round starts, and every lease end or timeout on
// one: each event is 100 ms from the next, whatever order the machine
// sees within a few milliseconds. Where a timeout and a lease end fall
// on one instant the monitor's order is a race; --fall 1 makes both
// orders give the same timeline (the error takes the role down either way).
var crossLatencies = []int{
	100, 100, 100, 100, 100,
	// Round 5 times out at 1600 but round 6 answered at 1300: overtaken.
	2000, 100, 100, 100, 100,
	// Round 9's lease ends at 2600 with round 10 timing out (down); rounds
	// 11 and 12 answer at 2700 and 2800 and rise 2 brings it back: a
	// 200 ms blip. Round 13's timeout is superseded.
	2000, 500, 400, 2000, 100,
	100, 100, 100, 100, 100,
	// Five rounds time out from 4600; rounds 25 and 26 answer at 5100 and
	// 5300.
	2000, 2000, 2000, 2000, 2000,
	100, 100, 100, 100, 100,
}

var crossSettings = Settings{Interval: 200 * time.Millisecond, Timeout: 600 * time.Millisecond, Rise: 2, Fall: 1}

// TestSimulationMatchesMonitor runs the real monitor (real time) and the
// simulation on the same latency per round and compares the /primary
// timelines: the same flips, each within 30% of an interval.
func TestSimulationMatchesMonitor(t *testing.T) {
	s := crossSettings
	until := len(crossLatencies) * int(s.Interval/time.Millisecond)
	sim, _ := timeline(s, iris{before: simulator.Primary}, script(crossLatencies...), until)
	want := []flip{{100, true}, {2600, false}, {2800, true}, {4600, false}, {5300, true}}
	sameFlips(t, "simulation", sim, want)

	tolerance := int(s.Interval/time.Millisecond) * 3 / 10
	var diff string
	for attempt := range 2 { // a second try only if the machine stalled the first
		real := realTimeline(t, s, crossLatencies, time.Duration(until)*time.Millisecond)
		if diff = compare(sim, real, tolerance); diff == "" {
			t.Logf("simulation %v, monitor %v", sim, real)
			return
		}
		t.Logf("attempt %d: %s", attempt+1, diff)
	}
	t.Errorf("the real monitor and the simulation disagree: %s", diff)
}

func compare(sim, real []flip, tolerance int) string {
	if len(sim) != len(real) {
		return fmt.Sprintf("simulation %v, monitor %v", sim, real)
	}
	for i := range sim {
		if sim[i].ok != real[i].ok || abs(sim[i].ms-real[i].ms) > tolerance {
			return fmt.Sprintf("flip %d: simulation %v, monitor %v (tolerance %d ms)", i, sim, real, tolerance)
		}
	}
	return ""
}

func abs(x int) int { return max(x, -x) }

// realTimeline runs monitor.Run with a probe that takes lat[k] ms in round
// k (k from the time since the first call, so a late start does not shift
// it) and returns the /primary flips, in ms after the first round started.
func realTimeline(t *testing.T, s Settings, lat []int, d time.Duration) []flip {
	var (
		once  sync.Once
		first time.Time
	)
	run := func(ctx context.Context) probe.Result {
		once.Do(func() { first = time.Now() })
		k := int((time.Since(first) + s.Interval/2) / s.Interval)
		wait := time.Millisecond
		if k < len(lat) {
			wait = time.Duration(lat[k]) * time.Millisecond
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
			return probe.Result{Outcome: probe.Primary, Reason: "mirror_status 200 SUCCESS", Latency: wait}
		case <-ctx.Done():
			return probe.Result{Outcome: probe.Error, Reason: "mirror_status timeout"}
		}
	}
	m := monitor.New([]monitor.Prober{{Spec: checker.ProbeSpec{Name: probe.MirrorStatusName}, Run: run}}, monitor.Options{
		Member: "x", Interval: s.Interval, Timeout: s.Timeout, Checker: s.checker(), Logger: zerolog.Nop(),
	})
	var (
		mu    sync.Mutex
		snaps = []*checker.Snapshot{m.Snapshot()}
	)
	m.Watch(func(_, next *checker.Snapshot) {
		mu.Lock()
		snaps = append(snaps, next)
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var t0 time.Time
	for _, sn := range snaps {
		if !sn.Started.IsZero() {
			t0 = sn.Started
			break
		}
	}
	var out []flip
	tr := tracker{q: checker.AskPrimary, onChange: func(c change) {
		out = append(out, flip{int(c.at.Sub(t0) / time.Millisecond), c.ok})
	}}
	for _, sn := range snaps {
		tr.publish(sn.At, sn)
	}
	tr.advance(t0.Add(d))
	return out
}
