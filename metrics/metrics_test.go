package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// scrape serves the registry over HTTP and parses the answer with the
// Prometheus text parser.
func scrape(t *testing.T, r *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Head(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return itest.ScrapeMetrics(t, srv.URL+"/metrics")
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := itest.MetricValue(fams, name, want)
	if !ok {
		t.Fatalf("no %s sample with %v", name, want)
	}
	return v
}

func TestScrapeParsesAndCounts(t *testing.T) {
	specs := []checker.ProbeSpec{{Name: probe.MirrorStatusName}, {Name: probe.SuperServerName}}
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: forever}, specs, t0)
	snap := m.Snapshot()
	r := New(func() *checker.Snapshot { return snap }, "v1.2.3", "go1.26.8")

	results := []probe.Result{
		{Probe: probe.MirrorStatusName, Outcome: probe.Primary, Reason: "mirror_status 200 SUCCESS", Latency: 2 * time.Millisecond},
		{Probe: probe.SuperServerName, Outcome: probe.Error, Reason: "superserver connection refused", Latency: 300 * time.Microsecond},
	}
	next := observe(m, t0.Add(time.Second), results...)
	r.Watch(snap, next)
	snap = next
	r.ObserveRound(results)
	results[1] = probe.Result{Probe: probe.SuperServerName, Outcome: probe.Up, Reason: "superserver accepted"}
	snap = observe(m, t0.Add(2*time.Second), results...)
	r.ObserveRound(results)

	r.CountCheck(checker.AskPrimary, true, false)
	r.CountCheck(checker.AskPrimary, true, false)
	r.CountCheck(checker.AskPrimary, false, true)
	r.CountAgentCheck(checker.AskAsync, false, true)
	r.CountAgentCheck(0, false, false)
	r.CountHook(HookTimeout)
	r.CountPoke()
	r.AddGateBytes(10, 20)

	fams := scrape(t, r)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"iris_mirror_agent_build_info", map[string]string{"version": "v1.2.3"}, 1},
		{"iris_mirror_agent_role", map[string]string{"role": "primary"}, 1},
		{"iris_mirror_agent_role", map[string]string{"role": "unknown"}, 0},
		{"iris_mirror_agent_mirror_role", map[string]string{"mirror": "unknown"}, 1},
		{"iris_mirror_agent_routable", nil, 1},
		{"iris_mirror_agent_maintenance", nil, 0},
		{"iris_mirror_agent_role_changes_total", nil, 1},
		{"iris_mirror_agent_role_since_timestamp_seconds", nil, float64(t0.Add(time.Second).Unix())},
		{"iris_mirror_agent_probe_duration_seconds", map[string]string{"probe": "mirror_status"}, 2},
		{"iris_mirror_agent_probe_errors_total", map[string]string{"probe": "superserver", "reason": "refused"}, 1},
		{"iris_mirror_agent_checks_total", map[string]string{"interface": "http", "check": "primary", "result": "pass"}, 2},
		{"iris_mirror_agent_checks_total", map[string]string{"interface": "external-check", "check": "primary", "result": "fail"}, 1},
		{"iris_mirror_agent_checks_total", map[string]string{"interface": "agent-check", "check": "async", "result": "fail"}, 1},
		{"iris_mirror_agent_checks_total", map[string]string{"interface": "agent-check", "check": "unknown"}, 1},
		{"iris_mirror_agent_hook_runs_total", map[string]string{"result": "timeout"}, 1},
		{"iris_mirror_agent_pokes_total", nil, 1},
		{"iris_mirror_agent_gate_bytes_total", map[string]string{"direction": "out"}, 20},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if f := fams["iris_mirror_agent_probe_duration_seconds"]; f.GetType() != dto.MetricType_HISTOGRAM || f.GetHelp() == "" {
		t.Errorf("probe duration is %v with help %q", f.GetType(), f.GetHelp())
	}
	if _, ok := fams["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics")
	}
	for name := range fams {
		if strings.HasPrefix(name, Prefix) && strings.HasSuffix(name, "_count") {
			t.Errorf("%s: a histogram's series parsed as its own family (missing TYPE?)", name)
		}
	}
}

func TestCountingDoesNotAllocate(t *testing.T) {
	r := New(func() *checker.Snapshot { return nil }, "v", "go")
	if n := testing.AllocsPerRun(1000, func() {
		r.CountCheck(checker.AskStandby, false, false)
		r.CountAgentCheck(checker.AskPrimary, true, true)
		r.CountAgentCheck(0, false, false)
	}); n != 0 {
		t.Errorf("counting allocates %v times", n)
	}
	if got := r.Checks(AgentCheck, checker.AskPrimary, true); got != 1001 {
		t.Errorf("agent-check primary passes %d, want 1001", got)
	}
}

func TestReasonClassIsBounded(t *testing.T) {
	for reason, want := range map[string]string{
		"mirror_status timeout":                      "timeout",
		"superserver connection refused":             "refused",
		"mirror_status unexpected status 500":        "status",
		"mirror_status 200 with unexpected body 'x'": "body",
		"qlist: instance hung":                       "instance_hung",
		"qlist unreadable: empty line: ''":           "unreadable",
		"something nobody expected":                  "other",
	} {
		if got := ReasonClass(reason); got != want {
			t.Errorf("%q: %q, want %q", reason, got, want)
		}
	}
}

func TestMetricsHandlerMethods(t *testing.T) {
	r := New(func() *checker.Snapshot { return nil }, "v", "go")
	h := r.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/other", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/other: %d", rec.Code)
	}
}

// observe feeds a round that started and finished at now; forever is a
// lease that outlives the test (readers here read it with the real clock).
func observe(m *checker.Machine, now time.Time, results ...probe.Result) *checker.Snapshot {
	s, _ := m.Observe(now, now, results...)
	return s
}

const forever = 100 * 365 * 24 * time.Hour
