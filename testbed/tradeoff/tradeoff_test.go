package tradeoff

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/testbed/benchsuite"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
	"github.com/irismirror/iris-mirror-agent/testbed/latency"
)

var (
	flagFull    = flag.Bool("full", false, "run the whole grid and write the report (minutes)")
	flagHours   = flag.Float64("hours", 200, "with -full: simulated hours per row for the blips")
	flagTrials  = flag.Int("trials", 2000, "with -full: failover trials per row and scenario")
	flagLong    = flag.Float64("long", 5000, "with -full: simulated hours of the pick alone")
	flagSeed    = flag.Uint64("seed", 0, "seed of every random draw (0: a new one, printed)")
	flagProfile = flag.String("profile", "jitter", "latency profile of mirror_status (a name or PCT:MIN-MAX,...)")
	flagOut     = flag.String("out", "", "with -full: the report, relative to the module root (default docs/reports/tradeoff.md)")
)

const fullCommand = "go test -run '^TestTradeoff$' -count=1 -timeout 3h -v ./testbed/tradeoff -args -full"

var agentCheckCfg = Balancer{AgentInter: 250 * time.Millisecond, CheckInter: 250 * time.Millisecond}

func plan(t *testing.T, hours float64, trials int) Plan {
	prof, err := latency.Parse(*flagProfile)
	if err != nil {
		t.Fatalf("-profile: %v", err)
	}
	seed := *flagSeed
	if seed == 0 {
		seed = rand.Uint64() >> 1
	}
	t.Logf("seed %d (rerun with -args -seed %d)", seed, seed)
	return Plan{Profile: prof, Balancer: agentCheckCfg, Hours: hours, Trials: trials, Seed: seed}
}

// defaults are serve's settings when none is given.
func defaults(t *testing.T) Settings {
	cfg, err := config.LoadServe(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return Settings{Interval: cfg.Interval, Timeout: cfg.Timeout, Lease: cfg.Lease, Rise: cfg.Rise, Fall: cfg.Fall}
}

// TestTradeoff runs a quick version: serve's defaults meet the targets
// and the defaults before them did not. With -args -full it runs the
// whole grid and writes docs/reports/tradeoff.md.
func TestTradeoff(t *testing.T) {
	if *flagFull {
		full(t)
		return
	}
	p := plan(t, 3, 2000)
	def := defaults(t)
	old := Settings{Interval: time.Second, Timeout: 800 * time.Millisecond, Rise: 2, Fall: 3}
	rows := Evaluate(p, []Settings{def, old})
	for _, r := range rows {
		t.Logf("%v/%v: %d blips in %.0f h (estimate %.2g/h); switch new %s old %s; hang %s",
			r.Settings.Interval, r.Settings.Timeout, r.Blips.Count, r.Blips.Hours, r.Estimate,
			quant(r.Failover[0].NewLB), quant(r.Failover[0].OldLB), quant(r.Failover[2].OldLB))
	}
	if r := rows[0]; !r.MeetsFailover(Goal) || !r.MeetsBlips(Goal) {
		t.Errorf("serve's defaults %+v miss the targets: failover %v, blips %v", def, r.MeetsFailover(Goal), r.MeetsBlips(Goal))
	}
	if rows[1].MeetsFailover(Goal) {
		t.Error("1s/800ms meets the switch target: the simulation is wrong or the targets changed")
	}
}

func full(t *testing.T) {
	began := time.Now()
	p := plan(t, *flagHours, *flagTrials)
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, n := range v {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	grid := Grid(ms(100, 125, 150, 175, 200, 250, 300, 500, 1000), ms(400, 500, 600, 650, 700, 750, 800, 1000, 1200, 1800), 2, 3)
	rows := Evaluate(p, grid)
	rep := &Report{
		Command: fmt.Sprintf("%s -seed %d", fullCommand, p.Seed), Date: time.Now(), Machine: benchsuite.ReadMachine(),
		Plan: p, Rows: rows, Pick: Pick(rows, Goal),
	}
	if *flagHours != 200 || *flagTrials != 2000 || *flagLong != 5000 || *flagProfile != "jitter" {
		rep.Command += fmt.Sprintf(" -hours %g -trials %d -long %g -profile '%s'", *flagHours, *flagTrials, *flagLong, *flagProfile)
	}
	if rep.Pick >= 0 {
		pick := rows[rep.Pick].Settings
		rep.Knobs = Evaluate(p, knobs(pick))
		long := Plan{Profile: p.Profile, Balancer: p.Balancer, Hours: *flagLong, Seed: p.Seed + 1}
		lr := Evaluate(long, []Settings{pick})[0]
		rep.Long, rep.LongOf = &lr.Blips, pick
		t.Logf("pick: --interval %v --timeout %v --fall %d", pick.Interval, pick.Timeout, pick.Fall)
	}
	rep.Took = time.Since(began)
	out := *flagOut
	if out == "" {
		out = filepath.Join("docs", "reports", "tradeoff.md")
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(itest.Root(t), out) // from the module root, where the command runs
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := rep.Write(f); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}

// knobs are the pick with other falls and timeouts.
func knobs(p Settings) []Settings {
	lease := p.LeaseOrDefault()
	with := func(f func(*Settings)) Settings { s := p; f(&s); return s }
	return []Settings{
		p,
		with(func(s *Settings) { s.Fall = 1 }),
		with(func(s *Settings) { s.Fall = 2 }),
		with(func(s *Settings) { s.Timeout -= 100 * time.Millisecond; s.Lease = lease }),
		with(func(s *Settings) { s.Timeout += 200 * time.Millisecond; s.Lease = lease }),
	}
}
