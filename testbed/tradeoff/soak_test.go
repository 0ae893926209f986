//go:build soak

package tradeoff

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/benchsuite"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

var (
	flagSoak    = flag.Duration("soak", 10*time.Minute, "how long the real agent runs against the jittering simulator")
	flagSoakOut = flag.String("soak-out", "", "the soak's report, relative to the module root (default docs/reports/soak.md)")
	flagAgent   = flag.String("agent", "", "agent flags after serve's defaults, to soak other settings (such as '--interval 200ms --timeout 600ms')")
)

const soakCommand = "go test -tags soak -run '^TestSoak$' -count=1 -timeout 30m -v ./testbed/tradeoff"

func TestMain(m *testing.M) { itest.Main(m) }

// TestSoak runs the real agent binary, at serve's defaults, beside a
// simulated member whose mirror_status answers with the jitter profile,
// and asks it as balancers do (GET /primary and the agent-check, each on
// a fresh connection every 10 ms) for -soak. Every check must pass: the
// member stays primary, so a failed one is a blip.
func TestSoak(t *testing.T) {
	def := defaults(t)
	seed := *flagSeed
	if seed == 0 {
		seed = rand.Uint64() >> 1
	}
	t.Logf("latency seed %d (rerun with -args -seed %d)", seed, seed)
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "soak", l.IP(1), "primary", "--latency-profile", *flagProfile, "--latency-seed", fmt.Sprint(seed))
	// serve's defaults, written out: the test states what it runs.
	a := itest.StartAgent(t, m, append([]string{"--interval", def.Interval.String(), "--timeout", def.Timeout.String(),
		"--rise", fmt.Sprint(def.Rise), "--fall", fmt.Sprint(def.Fall)}, strings.Fields(*flagAgent)...)...)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 10*time.Second)

	checks := &itest.BalancerChecks{HTTPAddr: a.HTTPAddr(), AgentAddr: a.AgentAddr(), Every: 10 * time.Millisecond}
	checks.Start(*flagSoak + time.Minute)
	if !checks.WaitPassed(time.Now(), 10*time.Second) {
		t.Fatal("no check passed within 10 s")
	}
	pid := a.Proc.Cmd.Process.Pid
	n0, err := m.MirrorStatusRequests()
	if err != nil {
		t.Fatal(err)
	}
	cpu0, err := benchsuite.CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(*flagSoak)
	elapsed := time.Since(t0)
	n1, err := m.MirrorStatusRequests()
	if err != nil {
		t.Fatal(err)
	}
	cpu1, err := benchsuite.CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	_, metrics, _ := itest.HTTPGet("http://"+a.HTTPAddr()+"/metrics", 5*time.Second)
	checks.Stop()

	httpS, agentS := blipsIn(checks.HTTP(), t0, t0.Add(elapsed)), blipsIn(checks.Agent(), t0, t0.Add(elapsed))
	var b strings.Builder
	b.WriteString("# Soak: the agent's defaults against IRIS latency jitter\n\n")
	cmd := fmt.Sprintf("%s -args -soak %v -seed %d", soakCommand, *flagSoak, seed)
	if *flagProfile != "jitter" {
		cmd += fmt.Sprintf(" -profile '%s'", *flagProfile)
	}
	if *flagAgent != "" {
		cmd += fmt.Sprintf(" -agent '%s'", *flagAgent)
	}
	if *flagSoakOut != "" {
		cmd += " -soak-out " + *flagSoakOut
	}
	fmt.Fprintf(&b, "Regenerate with:\n\n```sh\n%s\n```\n\n", cmd)
	mach := benchsuite.ReadMachine()
	fmt.Fprintf(&b, "- Date: %s\n- Machine: %s, %d cores, %s; Go %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), mach.CPU, mach.Cores, mach.Kernel, mach.Go)
	fmt.Fprintf(&b, "- Agent: the real binary at serve's defaults, `--interval %v --timeout %v --rise %d --fall %d` (lease %v)",
		def.Interval, def.Timeout, def.Rise, def.Fall, def.LeaseOrDefault())
	if *flagAgent != "" {
		fmt.Fprintf(&b, ", then `%s`", *flagAgent)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- Member: `irissim serve --latency-profile %s --latency-seed %d`, primary throughout\n", *flagProfile, seed)
	fmt.Fprintf(&b, "- Checks: GET /primary and the agent-check (`primary\\n`), each on a fresh connection every 10 ms, for %v\n\n", elapsed.Round(time.Second))
	b.WriteString("| check | checks | passed | failed (agent answered not routable) | errors (no answer) | blips |\n|---|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		s    soakCounts
	}{{"GET /primary", httpS}, {"agent-check", agentS}} {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", r.name, r.s.checks, r.s.passed, r.s.failed, r.s.errors, len(r.s.blips))
	}
	fmt.Fprintf(&b, "\n- Load on IRIS: %d mirror_status requests in %v, %.2f per second\n",
		n1-n0, elapsed.Round(time.Second), float64(n1-n0)/elapsed.Seconds())
	fmt.Fprintf(&b, "- Agent CPU: %s of a core\n", benchsuite.FmtPct((cpu1-cpu0).Seconds()/elapsed.Seconds()))
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "iris_mirror_agent_probe_errors_total") {
			fmt.Fprintf(&b, "- At the end: `%s` (slow answers the round's deadline turned into errors; overtaken by newer rounds, so no blip)\n", line)
		}
	}
	for _, s := range append(httpS.blips, agentS.blips...) {
		fmt.Fprintf(&b, "- Blip: %s\n", s)
	}
	out := *flagSoakOut
	if out == "" {
		out = filepath.Join("docs", "reports", "soak.md")
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(itest.Root(t), out)
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s\n%s", out, b.String())
	if len(httpS.blips)+len(agentS.blips) > 0 || httpS.errors+agentS.errors > 0 {
		t.Errorf("blips or check errors during the soak: /primary %+v, agent-check %+v", httpS, agentS)
	}
}

type soakCounts struct {
	checks, passed, failed, errors int
	blips                          []string // each run of failed checks: when and how long
}

// blipsIn counts the checks that started in [from, to) and the runs of
// failed ones.
func blipsIn(samples []itest.CheckSample, from, to time.Time) soakCounts {
	var c soakCounts
	var runStart time.Time
	inRun := false
	for _, s := range samples {
		if s.At.Before(from) || !s.At.Before(to) {
			continue
		}
		c.checks++
		switch {
		case s.OK:
			c.passed++
		case s.Err != nil:
			c.errors++
		default:
			c.failed++
		}
		switch {
		case !s.OK && !inRun:
			inRun, runStart = true, s.At
		case s.OK && inRun:
			inRun = false
			c.blips = append(c.blips, fmt.Sprintf("%s for %v", runStart.Sub(from).Round(time.Millisecond), s.At.Sub(runStart).Round(time.Millisecond)))
		}
	}
	if inRun {
		c.blips = append(c.blips, fmt.Sprintf("%s to the end", runStart.Sub(from).Round(time.Millisecond)))
	}
	return c
}
