//go:build bench

package benchsuite

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/testbed/agentload"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

var (
	flagRuns      = flag.Int("runs", 5, "runs of every measurement (the report gives median, min and max)")
	flagDuration  = flag.Duration("duration", 10*time.Second, "length of each load run (wrk, agentload)")
	flagQuick     = flag.Bool("quick", false, "smoke run: one run of each, 1 s loads, short windows; the report is labelled a smoke run")
	flagOut       = flag.String("out", "", "report file, relative to the module root (default: BENCHMARKS.md)")
	flagSections  = flag.String("sections", allSections, "sections to run, comma-separated")
	flagBalancers = flag.String("balancers", "", "failover rows to run: comma-separated parts of their names (default: every row)")
)

const allSections = "http,agent-check,external-check,gate,fence,failover,footprint,iris-load"

func TestMain(m *testing.M) { itest.Main(m) }

// settings are the bounds of one suite run.
type settings struct {
	runs     int           // runs of each load measurement
	load     time.Duration // one wrk or agentload run
	failRuns int           // runs of each failover scenario
	idle     time.Duration // idle footprint window
	irisLoad time.Duration // one load-on-IRIS window
	extN     int           // external-check invocations per run
}

func chooseSettings() settings {
	if *flagQuick {
		return settings{runs: 1, load: time.Second, failRuns: 1, idle: 3 * time.Second, irisLoad: 2 * time.Second, extN: 10}
	}
	runs := min(max(*flagRuns, 1), 20)
	load := min(max(*flagDuration, time.Second), time.Minute)
	return settings{runs: runs, load: load, failRuns: runs, idle: 30 * time.Second, irisLoad: load, extN: 40}
}

const (
	fullCommand  = "go test -tags bench -run '^TestSuite$' -count=1 -timeout 2h -v ./testbed/benchsuite"
	quickCommand = fullCommand + " -args -quick"
)

// env is what every section shares.
type env struct {
	s                               settings
	root                            string
	agent, sim, load, baseline, wrk string
	release                         string // the agent built -trimpath -ldflags='-s -w'
	check                           string // iris-mirror-check, built as release is
	hello                           string // a Go hello-world, built as release is: the floor of a Go process
	script                          string // the reference check.sh, executable
}

// TestSuite runs every section and writes the report. Each section is a
// subtest: its processes stop when it ends, and a failing section leaves
// the others running and is listed in the report.
func TestSuite(t *testing.T) {
	itest.RequireRoot(t, "mount namespaces, so haproxy configurations name members as a deployment does")
	raiseNoFile(t)
	e := &env{s: chooseSettings(), root: itest.Root(t)}
	e.wrk = requireWrk(t)
	itest.RequireTool(t, "haproxy")
	itest.RequireTool(t, "nginx")
	itest.RequireTool(t, "curl")
	itest.RequireTool(t, "bash")
	e.agent, e.sim = itest.Binaries(t)
	dir := t.TempDir()
	e.load = build(t, e.root, dir, "./cmd/agentload")
	e.baseline = build(t, e.root, dir, "./testbed/benchsuite/testdata/baseline")
	// The agent as a release ships it (the tests' build keeps symbols and
	// paths): per-invocation figures depend on it.
	e.release = build(t, e.root, t.TempDir(), "./cmd/iris-mirror-agent", "-trimpath", "-ldflags=-s -w")
	e.check = build(t, e.root, t.TempDir(), "./cmd/iris-mirror-check", "-trimpath", "-ldflags=-s -w")
	e.hello = build(t, e.root, t.TempDir(), "./testbed/benchsuite/testdata/hello", "-trimpath", "-ldflags=-s -w")
	e.script = filepath.Join(dir, "check.sh")
	b, err := os.ReadFile(filepath.Join(e.root, "testbed/benchsuite/testdata/check.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.script, b, 0o755); err != nil {
		t.Fatal(err)
	}

	rep := &Report{
		Smoke: *flagQuick, Command: fullCommand, Date: time.Now(), Machine: ReadMachine(),
		Versions: toolVersions(e.wrk),
		Settings: fmt.Sprintf("%d run(s) of each measurement, %v per load run, %d external-check invocations per run, idle window %v",
			e.s.runs, e.s.load, e.s.extN, e.s.idle),
	}
	if *flagQuick {
		rep.Command = quickCommand + "   # smoke run; drop -args -quick for the real measurement"
	} else if *flagRuns != 5 || *flagDuration != 10*time.Second || *flagSections != allSections {
		rep.Command = fmt.Sprintf("%s -args -runs %d -duration %v", fullCommand, e.s.runs, e.s.load)
		if *flagSections != allSections {
			rep.Command += " -sections " + *flagSections
		}
	}
	rep.Command += partOfTheSuite()
	sections := []struct {
		name string
		run  func(*testing.T, *env) *Table
	}{
		{"http", sectionHTTP},
		{"agent-check", sectionAgentCheck},
		{"external-check", sectionExternalCheck},
		{"gate", sectionGate},
		{"fence", sectionFence},
		{"failover", sectionFailover},
		{"footprint", sectionFootprint},
		{"iris-load", sectionIRISLoad},
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*flagSections, ",") {
		want[strings.TrimSpace(s)] = true
	}
	for _, sec := range sections {
		if !want[sec.name] {
			continue
		}
		var tbl *Table
		ok := t.Run(sec.name, func(t *testing.T) { tbl = sec.run(t, e) })
		if ok && tbl != nil {
			rep.Tables = append(rep.Tables, tbl)
		} else {
			rep.Errors = append(rep.Errors, sec.name+": failed; see the test log")
		}
	}
	out := *flagOut
	if out == "" {
		out = "BENCHMARKS.md"
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(e.root, out) // as the command reads, from the module root
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

// partOfTheSuite renders -balancers and -out, to add to the command
// (with -args when the command has none yet).
func partOfTheSuite() string {
	var b strings.Builder
	if *flagBalancers != "" {
		fmt.Fprintf(&b, " -balancers '%s'", *flagBalancers)
	}
	if *flagOut != "" {
		fmt.Fprintf(&b, " -out %s", *flagOut)
	}
	hasArgs := *flagQuick || *flagRuns != 5 || *flagDuration != 10*time.Second || *flagSections != allSections
	if b.Len() > 0 && !hasArgs {
		return " -args" + b.String()
	}
	return b.String()
}

// defaultServe is serve's settings when none is given: the agent's
// defaults, which rows named "agent defaults" measure.
func defaultServe(t *testing.T) *config.Serve {
	cfg, err := config.LoadServe(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// raiseNoFile lifts the open-file limit for 1024 wrk connections; the
// children (wrk, the servers) inherit it.
func raiseNoFile(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 8192 {
		lim.Max = 8192 // root may raise the hard limit
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raise RLIMIT_NOFILE to %d for 1024 connections: %v", lim.Cur, err)
	}
}

// requireWrk returns wrk's path, installing the Debian package if missing.
func requireWrk(t *testing.T) string {
	if p, err := exec.LookPath("wrk"); err == nil {
		return p
	}
	t.Log("wrk is missing: apt-get install -y --no-install-recommends wrk")
	for _, argv := range [][]string{
		{"apt-get", "update", "-qq"},
		{"apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"},
	} {
		if out, err := itest.Run(argv, []string{"DEBIAN_FRONTEND=noninteractive"}, 10*time.Minute); err != nil {
			t.Fatalf("wrk is not installed and %v failed: %v\n%s\nInstall it with: apt-get install wrk", argv, err, out)
		}
	}
	p, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk still missing after apt-get install wrk")
	}
	return p
}

// build compiles a main package of this module into dir, with flags.
func build(t *testing.T, root, dir, pkg string, flags ...string) string {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func toolVersions(wrk string) []string {
	first := func(argv ...string) string {
		out, _ := itest.Run(argv, nil, 10*time.Second)
		line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
		return line
	}
	return []string{
		"haproxy: " + first("haproxy", "-v"),
		"wrk: " + first(wrk, "--version"),
		"curl: " + first("curl", "--version"),
		"bash: " + first("bash", "--version"),
	}
}

// runWrk runs wrk once and parses its report.
func (e *env) runWrk(t *testing.T, url string, conns int, closeConn bool) WrkResult {
	t.Helper()
	return e.runWrkVia(t, nil, url, conns, closeConn)
}

// runWrkVia is runWrk with wrk's command line after prefix (such as
// ip netns exec NAME).
func (e *env) runWrkVia(t *testing.T, prefix []string, url string, conns int, closeConn bool) WrkResult {
	t.Helper()
	argv := append(append(append([]string(nil), prefix...), e.wrk), WrkArgs(url, conns, e.s.load, closeConn)...)
	out, err := itest.Run(argv, nil, e.s.load+30*time.Second)
	if err != nil {
		t.Fatalf("wrk %s: %v\n%s", url, err, out)
	}
	r, err := ParseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runLoad runs the agentload binary with args and parses its result.
func (e *env) runLoad(t *testing.T, d time.Duration, args ...string) agentload.Result {
	t.Helper()
	args = append([]string{e.load, "-duration", d.String()}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	var r agentload.Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("agentload output: %v\n%s", err, out)
	}
	if r.Errors > 0 {
		t.Logf("%s: %d errors %v %s", args[2:], r.Errors, r.ErrorKinds, r.Unwanted)
	}
	return r
}

// alternate returns the order of two targets for run i, so neither always
// runs first (a warm cache or a noisy neighbour then favours neither).
func alternate[T any](i int, a, b T) []T {
	if i%2 == 1 {
		return []T{b, a}
	}
	return []T{a, b}
}

// startMemberAgent runs a primary member on l's first address with an agent
// at its defaults (one probe round per second) and waits until it answers.
func startMemberAgent(t *testing.T, l *itest.Loopback, name string) *itest.Agent {
	m := itest.StartMember(t, name, l.IP(1), "primary")
	a := itest.StartAgent(t, m)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 15*time.Second)
	return a
}

// startBaseline runs the baseline server in mode (http, http-agent or tcp)
// on an address of l of its own, on the agent's port for that mode, and
// waits for it.
func startBaseline(t *testing.T, e *env, l *itest.Loopback, mode string) (*itest.Proc, string) {
	addr := map[string]string{"tcp": l.IP(2) + ":9798", "http": l.IP(2) + ":9797", "http-agent": l.IP(3) + ":9797", "web": l.IP(4) + ":8080"}[mode]
	p := itest.Start(t, "baseline-"+mode, nil, e.baseline, mode, addr)
	itest.WaitTCP(t, addr, 10*time.Second)
	return p, addr
}

// sectionHTTP: GET /primary under wrk, agent vs a minimal net/http server.
func sectionHTTP(t *testing.T, e *env) *Table {
	l := itest.NewLoopback(t)
	a := startMemberAgent(t, l, "bench")
	agentURL := "http://" + a.HTTPAddr() + "/primary"
	_, baseAddr := startBaseline(t, e, l, "http")
	baseURL := "http://" + baseAddr + "/primary"
	itest.WaitHTTP(t, baseURL, 200, 10*time.Second)
	_, srvAddr := startBaseline(t, e, l, "http-agent")
	srvURL := "http://" + srvAddr + "/primary"
	itest.WaitHTTP(t, srvURL, 200, 10*time.Second)
	// Warm every server up first: a process's first second (code paged
	// in, stacks and buffers grown) must not count against whoever is
	// measured first.
	for _, url := range []string{agentURL, baseURL, srvURL} {
		e.runWrk(t, url, 64, false)
	}

	tbl := &Table{
		Title: "HTTP /primary (wrk)",
		Intro: "`GET /primary` on the agent (answering 200 from its snapshot, member primary) and on the baseline, " +
			"a minimal Go net/http server answering a constant 200 (`testbed/benchsuite/testdata/baseline`), each its own process " +
			"on its own loopback address. wrk with 2 threads (1 for one connection), keep-alive or `Connection: close` " +
			"(a new connection per request). Targets: throughput >= 0.9x the baseline, p99 <= 1.2x the baseline's, " +
			"p99 < 1 ms with one connection. A third server, the same constant handler in the agent's own http.Server " +
			"(`httpapi.NewServer`: header, read, write and idle timeouts, header size cap; behind `httpapi.LimitConns`), " +
			"shows what those protections cost: the \"vs same server\" column is the agent's handler alone.",
		Head: []string{"connections", "mode", "agent req/s", "baseline req/s", "ratio", "agent p50", "agent p99", "baseline p99", "p99 ratio",
			"same server req/s", "vs same server", "errors", "targets met"},
	}
	for _, conns := range []int{1, 64, 1024} {
		for _, closeConn := range []bool{false, true} {
			mode := "keep-alive"
			if closeConn {
				mode = "new connection"
			}
			var ar, br, sr, a50, a99, b99 []float64
			errs := 0
			for run := range e.s.runs {
				urls := []string{agentURL, baseURL, srvURL}
				for i := range urls { // rotate, so no server always runs first
					url := urls[(i+run)%len(urls)]
					r := e.runWrk(t, url, conns, closeConn)
					errs += r.Errors
					switch url {
					case agentURL:
						ar, a50, a99 = append(ar, r.PerSec), append(a50, r.P50.Seconds()), append(a99, r.P99.Seconds())
					case baseURL:
						br, b99 = append(br, r.PerSec), append(b99, r.P99.Seconds())
					default:
						sr = append(sr, r.PerSec)
					}
				}
			}
			AR, BR, SR, A99, B99 := Summarise(ar), Summarise(br), Summarise(sr), Summarise(a99), Summarise(b99)
			ratio, p99ratio := Ratio(AR, BR), Ratio(A99, B99)
			ok := ratio >= 0.9 && p99ratio <= 1.2 && (conns != 1 || A99.Median < 1e-3)
			t.Logf("http %d %s: agent %.0f/s p99 %s, baseline %.0f/s p99 %s", conns, mode, AR.Median, FmtDur(A99.Median), BR.Median, FmtDur(B99.Median))
			if conns > httpapi.MaxConns/4 && len(tbl.Notes) == 0 {
				tbl.Notes = append(tbl.Notes, fmt.Sprintf("The agent holds at most %d HTTP connections, %d per client address "+
					"(`httpapi.LimitConns`, against one client taking them all), and wrk opens every connection from one address: "+
					"at %d connections the agent closes the oldest of them to make room (the errors column), so those rows "+
					"measure that protection, not the agent's throughput. Balancers hold a few connections each.",
					httpapi.MaxConns, httpapi.MaxConns/4, conns))
			}
			if P, P99 := Paired(ar, br), Paired(a99, b99); !ok && conns <= httpapi.MaxConns/4 && P.N > 1 {
				tbl.Notes = append(tbl.Notes, fmt.Sprintf("At %d connection(s), %s, the ratio of each agent run to the baseline run "+
					"beside it went from %s to %s (median %s), its p99 ratio from %s to %s: on two shared cores a run moves with "+
					"where the scheduler puts wrk and the server.",
					conns, mode, FmtRatio(P.Min), FmtRatio(P.Max), FmtRatio(P.Median), FmtRatio(P99.Min), FmtRatio(P99.Max)))
			}
			tbl.AddRow(fmt.Sprint(conns), mode, AR.Format(FmtRate), BR.Format(FmtRate), FmtRatio(ratio),
				Summarise(a50).Format(FmtDur), A99.Format(FmtDur), B99.Format(FmtDur), FmtRatio(p99ratio),
				SR.Format(FmtRate), FmtRatio(Ratio(AR, SR)), fmt.Sprint(errs), Verdict(ok, !math.IsNaN(ratio)))
		}
	}
	return tbl
}

// sectionAgentCheck: one TCP connection per check, agent vs a minimal Go
// TCP server writing a constant line.
func sectionAgentCheck(t *testing.T, e *env) *Table {
	l := itest.NewLoopback(t)
	a := startMemberAgent(t, l, "bench")
	_, baseAddr := startBaseline(t, e, l, "tcp")
	for _, addr := range []string{a.AgentAddr(), baseAddr} { // warm up, as in sectionHTTP
		e.runLoad(t, e.s.load, "-addr", addr, "-send", `primary\n`, "-workers", "8")
	}

	tbl := &Table{
		Title: "haproxy agent-check",
		Intro: "Checks as haproxy makes them: connect, send `primary\\n` with the handshake's last ACK, read one line, " +
			"close; one TCP connection per check, from `agentload` (`cmd/agentload`, a separate process). Baseline: a minimal " +
			"Go TCP server writing the constant line `up ready 100%`. Every reply is checked. Target: >= 0.9x the baseline's checks/s.",
		Head: []string{"concurrent checks", "agent checks/s", "baseline checks/s", "ratio", "agent p50", "agent p99", "baseline p50", "baseline p99", "errors (agent/baseline)", "target met"},
	}
	for _, workers := range []int{1, 32} {
		var ar, br, a50, a99, b50, b99 []float64
		var aErr, bErr int
		for run := range e.s.runs {
			for _, addr := range alternate(run, a.AgentAddr(), baseAddr) {
				r := e.runLoad(t, e.s.load, "-addr", addr, "-send", `primary\n`, "-expect", "up ready 100%", "-workers", fmt.Sprint(workers))
				if addr == baseAddr {
					br, b50, b99, bErr = append(br, r.PerSec), append(b50, r.P50.Seconds()), append(b99, r.P99.Seconds()), bErr+r.Errors
				} else {
					ar, a50, a99, aErr = append(ar, r.PerSec), append(a50, r.P50.Seconds()), append(a99, r.P99.Seconds()), aErr+r.Errors
				}
			}
		}
		AR, BR := Summarise(ar), Summarise(br)
		ratio := Ratio(AR, BR)
		t.Logf("agent-check x%d: agent %.0f/s, baseline %.0f/s", workers, AR.Median, BR.Median)
		tbl.AddRow(fmt.Sprint(workers), AR.Format(FmtRate), BR.Format(FmtRate), FmtRatio(ratio),
			Summarise(a50).Format(FmtDur), Summarise(a99).Format(FmtDur), Summarise(b50).Format(FmtDur), Summarise(b99).Format(FmtDur),
			fmt.Sprintf("%d/%d", aErr, bErr), Verdict(ratio >= 0.9, !math.IsNaN(ratio)))
		if P := Paired(ar, br); ratio < 0.9 && P.N > 1 {
			tbl.Notes = append(tbl.Notes, fmt.Sprintf("At %d concurrent check(s) the ratio of each agent run to the baseline run next to it "+
				"went from %s to %s (median %s): on two shared cores a run's rate moves with what else the machine schedules.",
				workers, FmtRatio(P.Min), FmtRatio(P.Max), FmtRatio(P.Median)))
		}
	}
	return tbl
}

// sectionFootprint: memory and CPU of serve, idle and answering 10k
// agent checks per second, and the binary's size.
func sectionFootprint(t *testing.T, e *env) *Table {
	l := itest.NewLoopback(t)
	a := startMemberAgent(t, l, "bench")
	base, baseAddr := startBaseline(t, e, l, "tcp")
	agentPID, basePID := a.Proc.Cmd.Process.Pid, base.Cmd.Process.Pid
	time.Sleep(2 * time.Second) // past start-up

	cpuOver := func(pid int, f func()) float64 {
		c0, err := CPUTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		f()
		c1, err := CPUTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		return (c1 - c0).Seconds() / time.Since(t0).Seconds()
	}
	mem := func(pid int) Memory {
		mm, err := ReadMemory(pid)
		if err != nil {
			t.Fatal(err)
		}
		return mm
	}
	var idleCPU, idleRSS []float64
	for range e.s.runs {
		idleCPU = append(idleCPU, cpuOver(agentPID, func() { time.Sleep(e.s.idle) }))
		idleRSS = append(idleRSS, mem(agentPID).RSS)
	}
	const rate = 10000
	var aCPU, bCPU, aRate, bRate []float64
	for run := range e.s.runs {
		for _, pid := range alternate(run, agentPID, basePID) {
			addr := a.AgentAddr()
			if pid == basePID {
				addr = baseAddr
			}
			var r agentload.Result
			c := cpuOver(pid, func() {
				r = e.runLoad(t, e.s.load, "-addr", addr, "-send", `primary\n`, "-expect", "up ready 100%", "-workers", "16", "-rate", fmt.Sprint(rate))
			})
			if pid == basePID {
				bCPU, bRate = append(bCPU, c), append(bRate, r.PerSec)
			} else {
				aCPU, aRate = append(aCPU, c), append(aRate, r.PerSec)
			}
		}
	}
	am, bm := mem(agentPID), mem(basePID)
	size := func(p string) float64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return float64(st.Size())
	}
	IC, AC, BC := Summarise(idleCPU), Summarise(aCPU), Summarise(bCPU)
	tbl := &Table{
		Title: "Footprint of serve",
		Intro: fmt.Sprintf("`iris-mirror-agent serve` at its defaults (one probe round per second) beside a primary member. "+
			"CPU is the process's CPU time (sum of its threads' /proc schedstat) over the window, as a share of one core; "+
			"memory is VmRSS, and VmHWM (the peak) after everything. Idle: %v windows. Under load: `agentload` asking %d agent "+
			"checks per second for %v; baseline: the minimal TCP server under the same load.", e.s.idle, rate, e.s.load),
		Head: []string{"figure", "agent", "baseline", "ratio", "target", "met"},
	}
	tbl.AddRow(fmt.Sprintf("CPU idle (a probe round every %v)", defaultServe(t).Interval), IC.Format(FmtPct), "", "", "< 0.5% of a core", Verdict(IC.Median < 0.005, IC.N > 0))
	tbl.AddRow("RSS idle (VmRSS)", Summarise(idleRSS).Format(FmtMB), "", "", "<= 20 MB", Verdict(Summarise(idleRSS).Median <= 20e6, true))
	tbl.AddRow(fmt.Sprintf("CPU at %d checks/s", rate), AC.Format(FmtPct), BC.Format(FmtPct), FmtRatio(Ratio(AC, BC)), "", "")
	tbl.AddRow("checks/s achieved", Summarise(aRate).Format(FmtRate), Summarise(bRate).Format(FmtRate), "", "", "")
	tbl.AddRow("RSS after load (VmRSS)", FmtMB(am.RSS), FmtMB(bm.RSS), FmtRatio(am.RSS/bm.RSS), "<= 20 MB", Verdict(am.RSS <= 20e6, true))
	tbl.AddRow("peak RSS (VmHWM)", FmtMB(am.HWM), FmtMB(bm.HWM), FmtRatio(am.HWM/bm.HWM), "<= 20 MB", Verdict(am.HWM <= 20e6, true))
	tbl.AddRow("binary size (CGO_ENABLED=0 go build)", FmtMB(size(e.agent)), FmtMB(size(e.baseline)), "", "", "")
	tbl.AddRow("binary size (release: -trimpath -ldflags='-s -w')", FmtMB(size(e.release)), "", "", "", "")
	return tbl
}

// sectionIRISLoad: mirror_status requests reaching a member while 1, 10
// and 100 simulated balancers check, through the agent or directly.
func sectionIRISLoad(t *testing.T, e *env) *Table {
	l := itest.NewLoopback(t)
	a := startMemberAgent(t, l, "withagent")
	withAgent := a.Member
	direct := itest.StartMember(t, "direct", l.IP(2), "primary") // no agent
	const every = 100 * time.Millisecond
	perInterval := float64(time.Second) / float64(defaultServe(t).Interval) // one probe round per interval

	probesPerSec := func(m *itest.Member, f func()) float64 {
		n0, t0 := mirrorRequests(t, m), time.Now()
		f()
		n1 := mirrorRequests(t, m)
		return float64(n1-n0) / time.Since(t0).Seconds()
	}
	tbl := &Table{
		Title: "Load on IRIS",
		Intro: fmt.Sprintf("mirror_status.cxw requests reaching a simulated member per second (its own counter, "+
			"`GET :52780/stats`) while N simulated balancers each check every %v for %v: through the agent "+
			"(agent-check, agent at its default %v interval) or directly (haproxy-style `GET /csp/mirror_status.cxw HTTP/1.0`). "+
			"Target: with the agent, one probe per interval whatever N.", every, e.s.irisLoad, defaultServe(t).Interval),
		Head: []string{"balancers", "checks/s they make", "mirror_status/s with the agent", "mirror_status/s direct", "ratio (agent/direct)", "target met"},
	}
	for _, n := range []int{1, 10, 100} {
		var viaAgent, viaDirect, made []float64
		for run := range e.s.runs {
			for _, mode := range alternate(run, "agent", "direct") {
				if mode == "agent" {
					var r agentload.Result
					viaAgent = append(viaAgent, probesPerSec(withAgent, func() {
						r = e.runLoad(t, e.s.irisLoad, "-addr", a.AgentAddr(), "-send", `primary\n`, "-expect", "up ready 100%",
							"-workers", fmt.Sprint(n), "-every", every.String())
					}))
					made = append(made, r.PerSec)
				} else {
					viaDirect = append(viaDirect, probesPerSec(direct, func() {
						e.runLoad(t, e.s.irisLoad, "-addr", direct.WebAddr(), "-kind", "http", "-send", "/csp/mirror_status.cxw",
							"-expect", "200", "-workers", fmt.Sprint(n), "-every", every.String())
					}))
				}
			}
		}
		VA, VD := Summarise(viaAgent), Summarise(viaDirect)
		t.Logf("iris load x%d: via agent %.2f/s, direct %.1f/s", n, VA.Median, VD.Median)
		tbl.AddRow(fmt.Sprint(n), Summarise(made).Format(FmtRate), VA.Format(FmtRate), VD.Format(FmtRate), FmtRatio(Ratio(VA, VD)),
			Verdict(VA.Max <= 1.5*perInterval, VA.N > 0))
	}
	tbl.Notes = append(tbl.Notes, "The agent also connects to the SuperServer once per round; that is not a mirror_status request and is not counted.")
	return tbl
}

// mirrorRequests reads the member's mirror_status request counter.
func mirrorRequests(t *testing.T, m *itest.Member) uint64 {
	t.Helper()
	n, err := m.MirrorStatusRequests()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
