package tradeoff

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/latency"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// script returns the latencies in order, then fast answers.
func script(lat ...int) func() time.Duration {
	i := 0
	return func() time.Duration {
		if i >= len(lat) {
			return ms(1)
		}
		i++
		return ms(lat[i-1])
	}
}

// timeline runs an agent beside w with scripted latencies until t (ms),
// its first round at 0, and returns the /primary flips as ms after epoch.
func timeline(s Settings, w iris, lat func() time.Duration, until int) ([]flip, counts) {
	var out []flip
	a := newAgent(s, w, lat, epoch, epoch, func(c change) {
		out = append(out, flip{int(c.at.Sub(epoch) / time.Millisecond), c.ok})
	})
	a.runUntil(epoch.Add(ms(until)))
	return out, a.counts
}

type flip struct {
	ms int
	ok bool
}

func sameFlips(t *testing.T, name string, got, want []flip) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: flips %v, want %v", name, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: flips %v, want %v", name, got, want)
			return
		}
	}
}

// TestRoundPolicy checks the simulated loop against timelines worked out
// by hand from monitor.Run's rules (interval 100 ms, timeout 300 ms, lease
// 400 ms: rounds start at 0, 100, 200...).
func TestRoundPolicy(t *testing.T) {
	s := Settings{Interval: ms(100), Timeout: ms(300), Rise: 2, Fall: 3}
	primary := iris{before: simulator.Primary}
	for _, tc := range []struct {
		name string
		s    Settings
		w    iris
		lat  []int
		want []flip
	}{
		{
			// Round 2 times out at 500 and round 3 answers at 550, but
			// round 4 (started 400) answered at 410: both are superseded.
			name: "a slow answer is overtaken", s: s, w: primary,
			lat:  []int{10, 10, 350, 250, 10},
			want: []flip{{10, true}},
		},
		{
			// Rounds 2-4 are slow: round 1's lease ends at 500, round 2's
			// timeout is observed then, round 5 (started 500) answers at 510.
			name: "three slow answers in a row make a blip", s: s, w: primary,
			lat:  []int{10, 10, 350, 350, 350, 10},
			want: []flip{{10, true}, {500, false}, {510, true}},
		},
		{
			// With --fall 1 the timeout takes the role down, and --rise 2
			// needs rounds 5 and 6 (answers at 510 and 601).
			name: "fall 1 then rise 2", s: Settings{Interval: ms(100), Timeout: ms(300), Rise: 2, Fall: 1}, w: primary,
			lat:  []int{10, 10, 350, 350, 350, 10},
			want: []flip{{10, true}, {500, false}, {601, true}},
		},
		{
			// A lease shorter than interval + timeout ends first: round 1
			// (started 100) is believed until 250; round 2 answers at 260.
			name: "short lease", s: Settings{Interval: ms(100), Timeout: ms(300), Lease: ms(150), Rise: 2, Fall: 3}, w: primary,
			lat:  []int{10, 10, 60, 10},
			want: []flip{{10, true}, {250, false}, {260, true}},
		},
		{
			name: "planned switch: the next answer after the change", s: s,
			w:    iris{before: simulator.Primary, after: simulator.Backup, at: epoch.Add(ms(250))},
			lat:  []int{10, 10, 10, 10},
			want: []flip{{10, true}, {310, false}},
		},
		{
			// Round 2 (started 200) is answered at 260 in the new state.
			name: "an answer reflects the state when IRIS answers", s: s,
			w:    iris{before: simulator.Primary, after: simulator.Backup, at: epoch.Add(ms(250))},
			lat:  []int{10, 10, 60},
			want: []flip{{10, true}, {260, false}},
		},
		{
			// Round 3 (started 300) fails at 360 after its retries.
			name: "down", s: s,
			w:    iris{before: simulator.Primary, after: simulator.Down, at: epoch.Add(ms(250))},
			lat:  []int{10, 10, 10, 10},
			want: []flip{{10, true}, {360, false}},
		},
		{
			// Round 2 (started 200) answered at 210, before the hang; the
			// lease of round 2 ends at 600 and round 3's timeout with it.
			name: "hang: the lease runs out", s: s,
			w:    iris{before: simulator.Primary, after: simulator.Hang, at: epoch.Add(ms(250))},
			lat:  []int{10, 10, 10, 10},
			want: []flip{{10, true}, {600, false}},
		},
		{
			name: "promotion", s: s,
			w:    iris{before: simulator.Backup, after: simulator.Primary, at: epoch.Add(ms(250))},
			lat:  []int{10, 10, 10, 10},
			want: []flip{{310, true}},
		},
	} {
		got, _ := timeline(tc.s, tc.w, script(tc.lat...), 1000)
		sameFlips(t, tc.name, got, tc.want)
	}
}

// TestInFlightCap: rounds that never answer (a probe ignoring its
// deadline cannot happen here, so a timeout longer than the run) stop
// new rounds at ceil(timeout/interval)+1, as the monitor does.
func TestInFlightCap(t *testing.T) {
	s := Settings{Interval: ms(100), Timeout: ms(250), Rise: 2, Fall: 3}
	_, c := timeline(s, iris{before: simulator.Hang}, script(), 1000)
	// Rounds at 0..1000; each runs 250 ms: at most 3 at once, never capped.
	if c.skipped != 0 || c.started != 11 {
		t.Errorf("hang at timeout 250ms: %+v", c)
	}
	s.Timeout = ms(5000)
	_, c = timeline(s, iris{before: simulator.Hang}, script(), 1000)
	if cap := s.maxInFlight(); cap != 51 || c.started != 11 {
		t.Errorf("cap %d, counts %+v", cap, c)
	}
	s = Settings{Interval: ms(100), Timeout: ms(150), Rise: 2, Fall: 3}
	_, c = timeline(s, iris{before: simulator.Primary}, func() time.Duration { return ms(1000) }, 1000)
	if s.maxInFlight() != 3 || c.skipped != 0 || c.timeouts != c.started {
		t.Errorf("every round times out at 150 ms, none capped: %+v", c)
	}
}

// TestSteadyAgreesWithTheEstimate: where blips are common the simulated
// rate and the independent-latency estimate agree within statistics.
func TestSteadyAgreesWithTheEstimate(t *testing.T) {
	prof, err := latency.Parse("jitter")
	if err != nil {
		t.Fatal(err)
	}
	s := Settings{Interval: ms(200), Timeout: ms(200), Rise: 2, Fall: 3}
	b := steady(s, prof, rand.New(rand.NewPCG(7, 7)), 20*time.Hour)
	est := Estimate(s, prof) * b.Hours
	if sd := math.Sqrt(est); est < 100 || math.Abs(float64(b.Count)-est) > 4*sd+0.05*est {
		t.Errorf("%d blips in %.0f h, estimate %.0f", b.Count, b.Hours, est)
	}
}

// TestFailoverBounds: without jitter each time sits within the bounds the
// settings imply, and the balancer never sees a change before the gate.
func TestFailoverBounds(t *testing.T) {
	prof, _ := latency.Parse("100:5ms")
	s := Settings{Interval: ms(200), Timeout: ms(500), Rise: 2, Fall: 3}
	bal := Balancer{AgentInter: ms(250), CheckInter: ms(250)}
	rng := rand.New(rand.NewPCG(3, 4))
	lease := s.LeaseOrDefault().Seconds()
	for range 200 {
		for _, sc := range Scenarios {
			sw := failover(s, sc, bal, prof, rng)
			var oldMax float64
			switch sc.Old {
			case simulator.Backup:
				oldMax = 0.2 + 0.005
			case simulator.Down:
				oldMax = 0.2 + downErr.Seconds()
			case simulator.Hang:
				oldMax = lease
			}
			if !(sw.OldGate <= oldMax+1e-9) || !(sw.NewGate <= 0.2+0.005+1e-9) {
				t.Fatalf("%s: %+v, old bound %.3f", sc.Name, sw, oldMax)
			}
			if !(sw.OldLB >= sw.OldGate && sw.OldLB <= sw.OldGate+0.25+1e-9) ||
				!(sw.NewLB >= sw.NewGate && sw.NewLB <= sw.NewGate+0.25+1e-9) {
				t.Fatalf("%s: balancer outside gate + agent-inter: %+v", sc.Name, sw)
			}
		}
	}
}
