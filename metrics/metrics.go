// Package metrics exposes the agent's numbers in the Prometheus text format
// at /metrics.
//
// It is built on VictoriaMetrics/metrics rather than prometheus/client_golang:
// the same text format for a fraction of the binary size and memory (see
// docs/design.md, "Decisions", for the measurement). Every counter on a balancer's
// path is created up front and is one atomic add: no lock, no allocation.
package metrics

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// Prefix starts every metric name of the agent.
const Prefix = "iris_mirror_agent_"

// Interface is how a balancer asked.
type Interface uint8

// The interfaces checks arrive by.
const (
	HTTP          Interface = iota // GET /<check> on the HTTP listener
	AgentCheck                     // haproxy agent-check
	ExternalCheck                  // haproxy external-check (the agent binary asking over HTTP)
	numInterfaces
)

var interfaceNames = [numInterfaces]string{"http", "agent-check", "external-check"}

// HookResult is how a role-change hook ended.
type HookResult uint8

// The ways a hook ends.
const (
	HookOK      HookResult = iota // exit 0
	HookFailed                    // non-zero exit, or it could not start
	HookTimeout                   // killed at its timeout
	numHookResults
)

var hookResultNames = [numHookResults]string{"ok", "failed", "timeout"}

// probeBuckets cover a loopback answer (sub-millisecond) up to a timeout.
var probeBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Registry holds the agent's metrics.
type Registry struct {
	snapshot func() *checker.Snapshot
	families []*family

	checks       [numInterfaces][checker.NumQuestions][2]*vm.Counter // [iface][check][ok]
	unknownCheck [numInterfaces]*vm.Counter
	roleChanges  *vm.Counter
	hooks        [numHookResults]*vm.Counter
	pokes        *vm.Counter
	gateConns    *vm.Counter
	gateBytesIn  *vm.Counter
	gateBytesOut *vm.Counter

	probeMu  sync.Mutex // guards creation of per-probe series (poll loop only)
	duration *family
	errors   *family
	durByKey map[string]*vm.PrometheusHistogram
	errByKey map[string]*vm.Counter
}

// family is one metric name with its help and type, in its own set so
// that HELP and TYPE are written once, right before its samples.
type family struct {
	name, help, typ string
	set             *vm.Set
}

func (r *Registry) family(name, typ, help string) *family {
	f := &family{name: Prefix + name, help: help, typ: typ, set: vm.NewSet()}
	r.families = append(r.families, f)
	return f
}

// New builds the registry. snapshot is read at each scrape for the
// gauges; version is the agent's version for build_info.
func New(snapshot func() *checker.Snapshot, version, goVersion string) *Registry {
	r := &Registry{snapshot: snapshot, durByKey: map[string]*vm.PrometheusHistogram{}, errByKey: map[string]*vm.Counter{}}

	bi := r.family("build_info", "gauge", "Always 1; the labels name the agent's version and Go release.")
	bi.set.NewGauge(fmt.Sprintf(`%s{version=%q,goversion=%q}`, bi.name, version, goVersion), func() float64 { return 1 })

	role := r.family("role", "gauge", "1 for the member's current role (from mirror_status), 0 for the others.")
	for _, ro := range []checker.Role{checker.Unknown, checker.Primary, checker.Standby, checker.Down} {
		role.set.NewGauge(fmt.Sprintf(`%s{role=%q}`, role.name, ro), func() float64 { return b2f(r.snapshot().Role == ro) })
	}
	mirror := r.family("mirror_role", "gauge", "1 for the member's mirror role from iris qlist (unknown without qlist), 0 for the others.")
	for _, mi := range probe.MirrorRoles() {
		label := string(mi)
		if mi == probe.MirrorUnknown {
			label = "unknown"
		}
		mirror.set.NewGauge(fmt.Sprintf(`%s{mirror=%q}`, mirror.name, label), func() float64 { return b2f(r.snapshot().MirrorRole == mi) })
	}
	gauge := func(name, help string, f func(s *checker.Snapshot) float64) {
		fam := r.family(name, "gauge", help)
		fam.set.NewGauge(fam.name, func() float64 { return f(r.snapshot()) })
	}
	gauge("routable", "1 when the member is a routable primary (what /primary and agent-check answer now, lease included).",
		func(s *checker.Snapshot) float64 { return b2f(s.Verdict(checker.AskPrimary, time.Now()).OK) })
	gauge("healthy", "1 when IRIS is up, primary or standby (what /health answers now, lease included).",
		func(s *checker.Snapshot) float64 { return b2f(s.Verdict(checker.AskHealth, time.Now()).OK) })
	gauge("answer_fresh", "1 while the agent's answer is within its lease; 0 when stale: every check fails.",
		func(s *checker.Snapshot) float64 { return b2f(s.Fresh(time.Now())) })
	gauge("lease_expiry_timestamp_seconds", "When the current answer's lease ends, in Unix seconds.",
		func(s *checker.Snapshot) float64 { return float64(s.Expires.UnixNano()) / 1e9 })
	gauge("maintenance", "1 while an operator has taken the member out (drain file or admin socket).",
		func(s *checker.Snapshot) float64 { return b2f(s.Maintenance) })
	gauge("conflict", "1 while iris qlist and mirror_status disagree about the primary.",
		func(s *checker.Snapshot) float64 { return b2f(s.Conflict != "") })
	gauge("role_since_timestamp_seconds", "When the current role began, in Unix seconds.",
		func(s *checker.Snapshot) float64 { return float64(s.Since.UnixNano()) / 1e9 })
	gauge("last_probe_round_timestamp_seconds", "When the last probe round finished, in Unix seconds.",
		func(s *checker.Snapshot) float64 { return float64(s.LastResult.UnixNano()) / 1e9 })

	rc := r.family("role_changes_total", "counter", "Role changes since the agent started.")
	r.roleChanges = rc.set.NewCounter(rc.name)

	r.duration = r.family("probe_duration_seconds", "histogram", "Time each probe took, retries included.")
	r.errors = r.family("probe_errors_total", "counter", "Probe results that were not an answer, by probe and kind of reason.")

	ch := r.family("checks_total", "counter", "Checks answered, by interface, check and result.")
	for i := range numInterfaces {
		for _, c := range checker.Questions() {
			for ok, res := range []string{"fail", "pass"} {
				r.checks[i][c][ok] = ch.set.NewCounter(fmt.Sprintf(`%s{interface=%q,check=%q,result=%q}`, ch.name, interfaceNames[i], c, res))
			}
		}
		if i != ExternalCheck { // the external check only asks known paths
			r.unknownCheck[i] = ch.set.NewCounter(fmt.Sprintf(`%s{interface=%q,check="unknown",result="fail"}`, ch.name, interfaceNames[i]))
		}
	}

	hk := r.family("hook_runs_total", "counter", "Role-change hook runs, by result (ok, failed, timeout).")
	for i := range numHookResults {
		r.hooks[i] = hk.set.NewCounter(fmt.Sprintf(`%s{result=%q}`, hk.name, hookResultNames[i]))
	}
	pk := r.family("pokes_total", "counter", "Immediate probe rounds asked for on the admin socket (iris-mirror-agent poke).")
	r.pokes = pk.set.NewCounter(pk.name)
	gc := r.family("gate_connections_total", "counter", "Client connections accepted by the gate.")
	r.gateConns = gc.set.NewCounter(gc.name)
	gb := r.family("gate_bytes_total", "counter", "Bytes the gate forwarded, by direction (in: client to IRIS, out: IRIS to client).")
	r.gateBytesIn = gb.set.NewCounter(gb.name + `{direction="in"}`)
	r.gateBytesOut = gb.set.NewCounter(gb.name + `{direction="out"}`)
	return r
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// CountCheck counts an HTTP check (httpapi.Counter).
func (r *Registry) CountCheck(c checker.Question, ok, external bool) {
	i := HTTP
	if external {
		i = ExternalCheck
	}
	r.count(i, c, ok, true)
}

// CountAgentCheck counts an agent-check answer (haproxy.Counter).
func (r *Registry) CountAgentCheck(c checker.Question, ok, known bool) {
	r.count(AgentCheck, c, ok, known)
}

func (r *Registry) count(i Interface, c checker.Question, ok, known bool) {
	if !known || int(c) >= checker.NumQuestions {
		if u := r.unknownCheck[i]; u != nil {
			u.Inc()
		}
		return
	}
	k := 0
	if ok {
		k = 1
	}
	r.checks[i][c][k].Inc()
}

// Checks returns how many checks interface i answered with check c and
// result ok (for tests and their measurements).
func (r *Registry) Checks(i Interface, c checker.Question, ok bool) uint64 {
	k := 0
	if ok {
		k = 1
	}
	return r.checks[i][c][k].Get()
}

// Watch is a monitor watcher: it counts role changes.
func (r *Registry) Watch(prev, next *checker.Snapshot) {
	if prev != nil && prev.Role != next.Role {
		r.roleChanges.Inc()
	}
}

// ObserveRound records one probe round (monitor.Options.OnRound).
func (r *Registry) ObserveRound(results []probe.Result) {
	r.probeMu.Lock()
	defer r.probeMu.Unlock()
	for _, res := range results {
		h := r.durByKey[res.Probe]
		if h == nil {
			h = r.duration.set.NewPrometheusHistogramExt(fmt.Sprintf(`%s{probe=%q}`, r.duration.name, res.Probe), probeBuckets)
			r.durByKey[res.Probe] = h
		}
		h.Update(res.Latency.Seconds())
		if res.Outcome != probe.Error {
			continue
		}
		key := res.Probe + "\x00" + ReasonClass(res.Reason)
		c := r.errByKey[key]
		if c == nil {
			c = r.errors.set.NewCounter(fmt.Sprintf(`%s{probe=%q,reason=%q}`, r.errors.name, res.Probe, ReasonClass(res.Reason)))
			r.errByKey[key] = c
		}
		c.Inc()
	}
}

// reasonClasses map words of a probe's reason to a bounded label value,
// first match wins: the reason itself is free text and would make a new
// series for every distinct message.
var reasonClasses = []struct{ word, class string }{
	{"timeout", "timeout"},
	{"refused", "refused"},
	{"reset", "reset"},
	{"closed before", "closed"},
	{"unexpected status", "status"},
	{"unexpected body", "body"},
	{"body over", "body"},
	{"tls", "tls"},
	{"dns", "dns"},
	{"instance down", "instance_down"},
	{"instance hung", "instance_hung"},
	{"sign-on inhibited", "sign_on_inhibited"},
	{"unreadable", "unreadable"},
	{"printed over", "unreadable"},
	{"answered for instance", "wrong_instance"},
	{"not found", "not_found"},
	{"qlist exit", "exit"},
}

// ReasonClass reduces a probe reason to one of a few label values.
func ReasonClass(reason string) string {
	for _, rc := range reasonClasses {
		if strings.Contains(reason, rc.word) {
			return rc.class
		}
	}
	return "other"
}

// Func is one sample read at each scrape: its labels (such as
// `gate=":1973"`, or empty) and its value.
type Func struct {
	Labels string
	Value  func() float64
}

// AddGauge adds a family of gauges read at each scrape. Call before serving.
func (r *Registry) AddGauge(name, help string, samples ...Func) {
	r.addFuncs(name, "gauge", help, samples)
}

// AddCounter adds a family of counters read at each scrape (from counters
// kept elsewhere, such as a gate's). Call before serving.
func (r *Registry) AddCounter(name, help string, samples ...Func) {
	r.addFuncs(name, "counter", help, samples)
}

func (r *Registry) addFuncs(name, typ, help string, samples []Func) {
	f := r.family(name, typ, help)
	for _, s := range samples {
		n := f.name
		if s.Labels != "" {
			n += "{" + s.Labels + "}"
		}
		f.set.NewGauge(n, s.Value)
	}
}

// CountHook counts one role-change hook run.
func (r *Registry) CountHook(res HookResult) {
	if res < numHookResults {
		r.hooks[res].Inc()
	}
}

// Hooks returns how many hook runs ended with res.
func (r *Registry) Hooks(res HookResult) uint64 { return r.hooks[res].Get() }

// CountPoke counts one poke.
func (r *Registry) CountPoke() { r.pokes.Inc() }

// CountGateConnection counts a connection the gate accepted (for the gate).
func (r *Registry) CountGateConnection() { r.gateConns.Inc() }

// AddGateBytes adds bytes the gate forwarded each way (for the gate).
func (r *Registry) AddGateBytes(in, out int64) {
	r.gateBytesIn.AddInt64(in)
	r.gateBytesOut.AddInt64(out)
}

// Write writes every metric in the Prometheus text format, then the
// process and Go runtime metrics.
func (r *Registry) Write(w io.Writer) {
	for _, f := range r.families {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		f.set.WritePrometheus(w)
	}
	vm.WriteProcessMetrics(w)
}

// Handler serves /metrics (GET and HEAD) and 404 for anything else, so it
// can be httpapi.Handler's Extra.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/metrics" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: use GET or HEAD", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if req.Method == http.MethodHead {
			return
		}
		r.Write(w)
	})
}
