//go:build bench

package benchsuite

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// extCommand is one row of the external-check section.
type extCommand struct {
	label string
	bin   string
	args  []string // nil: haproxy's four arguments
}

// sectionExternalCheck: CPU and wall time of one external-check
// invocation as haproxy makes it, for the reference bash+curl script, a
// Go hello-world (the floor of any Go process), iris-mirror-check and
// iris-mirror-agent. Each run measures every command, in an order that
// rotates from run to run, and the ratios are taken within a run: on a
// shared machine they hold where absolute times move with the load.
//
// The invocations run in a worker (this test binary, TestExtCheckWorker)
// inside a mount namespace whose /etc/hosts names the member ap1a, so the
// script resolves HAPROXY_SERVER_NAME as it did in the reference
// deployment; the worker reads each child's rusage from wait4, so the
// namespace wrapper costs nothing that is measured.
func sectionExternalCheck(t *testing.T, e *env) *Table {
	m := startMemberAgent(t, itest.NewLoopback(t), "ap1a").Member
	hosts := itest.HostsFile(t, map[string]string{"ap1a": m.IP})
	// What haproxy 2.6 leaves in the environment of an external check.
	environ := []string{
		"HAPROXY_PROXY_ADDR=NOT_USED", "HAPROXY_PROXY_ID=3", "HAPROXY_PROXY_NAME=ap1", "HAPROXY_PROXY_PORT=NOT_USED",
		"HAPROXY_SERVER_ADDR=" + m.IP, "HAPROXY_SERVER_CURCONN=0", "HAPROXY_SERVER_ID=1", "HAPROXY_SERVER_MAXCONN=0",
		"HAPROXY_SERVER_NAME=ap1a", "HAPROXY_SERVER_PORT=1972", "HAPROXY_SERVER_SSL=0", "HAPROXY_SERVER_PROTO=tcp",
		"PATH=/usr/bin:/bin",
	}
	check := []string{"NOT_USED", "NOT_USED", m.IP, "1972"}
	invoke := func(bin string, args []string) (cpu, wall float64) {
		spec, _ := json.Marshal(extSpec{Bin: bin, Args: args, Env: environ, N: e.s.extN})
		argv := itest.WithHosts(t, hosts, os.Args[0], "-test.run=^TestExtCheckWorker$", "-test.count=1")
		out, err := itest.Run(argv, []string{extWorkerEnv + "=" + string(spec)}, 5*time.Minute)
		var r extResult
		for line := range strings.Lines(out) {
			if js, ok := strings.CutPrefix(strings.TrimSpace(line), extResultPrefix); ok {
				err = errors.Join(err, json.Unmarshal([]byte(js), &r))
			}
		}
		if err != nil || r.N != e.s.extN {
			t.Fatalf("external-check worker for %s: %v\n%s", filepath.Base(bin), err, out)
		}
		return r.CPU / float64(r.N), r.Wall / float64(r.N)
	}
	const (
		script = iota
		hello
		small
		agent
		agentVersion
		agentPlain
	)
	cmds := []extCommand{
		script:       {"reference check.sh (bash + curl)", e.script, nil},
		hello:        {"Go hello-world, release build (process start only)", e.hello, nil},
		small:        {"**iris-mirror-check**, release build", e.check, nil},
		agent:        {"iris-mirror-agent (external-check mode), release build", e.release, nil},
		agentVersion: {"iris-mirror-agent version, release build (its process start only)", e.release, []string{"version"}},
		agentPlain:   {"iris-mirror-agent (external-check mode), plain `go build`", e.agent, nil},
	}
	cpu := make([][]float64, len(cmds))
	wall := make([][]float64, len(cmds))
	for run := range e.s.runs {
		for k := range cmds {
			i := (k + run) % len(cmds) // rotate: no command always runs first or after the same one
			args := cmds[i].args
			if args == nil {
				args = check
			}
			c, w := invoke(cmds[i].bin, args)
			cpu[i], wall[i] = append(cpu[i], c), append(wall[i], w)
		}
	}
	vsScript, vsHello := runRatios(cpu[small], cpu[script]), runRatios(cpu[small], cpu[hello])
	t.Logf("external-check CPU per check: script %s, hello %s, iris-mirror-check %s (%s of the script, %s of hello), agent %s",
		FmtDur(Summarise(cpu[script]).Median), FmtDur(Summarise(cpu[hello]).Median), FmtDur(Summarise(cpu[small]).Median),
		FmtRatio(vsScript.Median), FmtRatio(vsHello.Median), FmtDur(Summarise(cpu[agent]).Median))
	tbl := &Table{
		Title: "haproxy external-check",
		Intro: fmt.Sprintf("One invocation as haproxy makes it: `<command> NOT_USED NOT_USED <ip> 1972`, environment holding only "+
			"`HAPROXY_*` and `PATH` (`HAPROXY_SERVER_NAME=ap1a`, resolved through /etc/hosts as in the reference deployment), "+
			"member primary. CPU is user+system time of the process and its children (wait4 rusage: bash's curl included), "+
			"averaged over %d invocations per run; every run measures every row, in an order rotating from run to run, and a ratio "+
			"is taken within each run (median, min–max over the runs). The reference script is `testbed/benchsuite/testdata/check.sh`, "+
			"the reference deployment's two lines asking mirror_status.cxw; both binaries ask the agent's /primary. "+
			"Targets for iris-mirror-check, the binary the haproxy example runs: <= 0.3x the script's CPU and <= 1.5x a Go hello-world's.", e.s.extN),
		Head: []string{"command", "CPU per check", "wall time per check", "CPU vs script", "CPU vs hello-world", "target met"},
	}
	for i, c := range cmds {
		rs, rh := runRatios(cpu[i], cpu[script]), runRatios(cpu[i], cpu[hello])
		verdict := ""
		switch i {
		case script:
			verdict = "baseline"
		case hello:
			verdict = "floor"
		case small:
			verdict = Verdict(rs.Median <= 0.3 && rh.Median <= 1.5, !math.IsNaN(rs.Median) && !math.IsNaN(rh.Median))
		}
		tbl.AddRow(c.label, Summarise(cpu[i]).Format(FmtDur), Summarise(wall[i]).Format(FmtDur), rs.Format(FmtRatio), rh.Format(FmtRatio), verdict)
	}
	tbl.Notes = append(tbl.Notes,
		"Release build: `CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'`. The plain build (symbols, full paths; what the tests use) starts measurably slower: more page faults at exec.",
		"iris-mirror-check links the runtime, os, syscall, time, strconv and net/netip: no net (it asks over a raw socket "+
			"with ppoll(2)), net/http, crypto/tls, logger or metrics, whose package initialisation iris-mirror-agent pays on every fork "+
			"(its `version` row). What it adds to the hello-world is the check itself: reading its settings file, one connection, one HTTP/1.0 GET.")
	return tbl
}

// runRatios divides a by b run by run (the two were measured in the
// same run) and summarises the ratios.
func runRatios(a, b []float64) Summary {
	r := make([]float64, 0, len(a))
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return Summarise(r)
}

const (
	extWorkerEnv    = "IRISBENCH_EXTCHECK_SPEC"
	extResultPrefix = "EXTCHECK-RESULT "
)

// extSpec is what TestExtCheckWorker runs; extResult what it measured.
type extSpec struct {
	Bin  string
	Args []string
	Env  []string
	N    int
}

type extResult struct {
	N         int
	CPU, Wall float64 // seconds, summed over the invocations
}

// TestExtCheckWorker is the external-check section's helper process: it
// runs one command N times and prints the summed CPU (from wait4's rusage)
// and wall time. It does nothing unless the suite started it.
func TestExtCheckWorker(t *testing.T) {
	raw := os.Getenv(extWorkerEnv)
	if raw == "" {
		return // not started by sectionExternalCheck
	}
	var spec extSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	var r extResult
	for range min(max(spec.N, 1), 1000) {
		cmd := exec.Command(spec.Bin, spec.Args...)
		cmd.Env = spec.Env
		t0 := time.Now()
		err := cmd.Run()
		r.Wall += time.Since(t0).Seconds()
		if err != nil {
			t.Fatalf("%s %v: %v (want exit 0: the member is primary)", spec.Bin, spec.Args, err)
		}
		ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		r.CPU += RusageCPU(ru).Seconds()
		r.N++
	}
	js, _ := json.Marshal(r)
	fmt.Println(extResultPrefix + string(js))
}
