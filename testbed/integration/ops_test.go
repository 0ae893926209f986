package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// qlistAgent runs an agent whose iris launcher is irissim itself: it
// prints the qlist line of the member it sits beside.
func qlistAgent(t *testing.T, m *itest.Member, extra ...string) *itest.Agent {
	t.Helper()
	_, sim := itest.Binaries(t)
	flags := append([]string{"--qlist-instance", "IRIS", "--iris-bin", sim, "--interval", "250ms", "--timeout", "500ms"}, extra...)
	return itest.StartAgentEnv(t, m, []string{"IRISSIM_CONTROL=" + m.IP + ":52780"}, flags...)
}

func codeOf(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := itest.HTTPGet(url, 2*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return code, body
}

// waitCode waits until url answers code, and returns the body.
func waitCode(t *testing.T, url string, code int, d time.Duration) string {
	t.Helper()
	itest.WaitHTTP(t, url, code, d)
	_, body := codeOf(t, url)
	return body
}

// runAgentCmd runs the agent binary with args and returns exit code and output.
func runAgentCmd(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	bin, _ := itest.Binaries(t)
	out, err := itest.Run(append([]string{bin}, args...), env, 20*time.Second)
	code := 0
	if err != nil {
		var ok bool
		if code, ok = exitCode(err); !ok {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	return code, out
}

func exitCode(err error) (int, bool) {
	type coder interface{ ExitCode() int }
	if c, ok := err.(coder); ok {
		return c.ExitCode(), true
	}
	return 0, false
}

func TestQListRolesStatusTableAndMetrics(t *testing.T) {
	l := itest.NewLoopback(t)
	ap1a := itest.StartMember(t, "ap1a", l.IP(1), "primary")
	ap1b := itest.StartMember(t, "ap1b", l.IP(2), "backup")
	dr1 := itest.StartMember(t, "dr1", l.IP(3), "async")
	agents := []*itest.Agent{qlistAgent(t, ap1a), qlistAgent(t, ap1b), qlistAgent(t, dr1)}
	base := func(a *itest.Agent) string { return "http://" + a.HTTPAddr() }

	// Roles from qlist: each member answers 200 on its own role only.
	waitCode(t, base(agents[0])+"/primary", 200, 10*time.Second)
	waitCode(t, base(agents[1])+"/backup", 200, 10*time.Second)
	waitCode(t, base(agents[2])+"/async", 200, 10*time.Second)
	for _, c := range []struct {
		a    *itest.Agent
		path string
		code int
	}{
		{agents[0], "/backup", 503}, {agents[0], "/standby", 503},
		{agents[1], "/async", 503}, {agents[1], "/standby", 200}, {agents[1], "/primary", 503},
		{agents[2], "/backup", 503}, {agents[2], "/standby", 200},
	} {
		if code, body := codeOf(t, base(c.a)+c.path); code != c.code {
			t.Errorf("%s%s: %d %q, want %d", c.a.Member.Name, c.path, code, body, c.code)
		}
	}
	_, body := codeOf(t, base(agents[1])+"/status")
	var st struct {
		Mirror   string `json:"mirror"`
		Instance struct {
			MirrorStatus string `json:"mirror_status"`
			MemberType   string `json:"member_type"`
		} `json:"instance"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Mirror != "backup" || st.Instance.MirrorStatus != "Backup" {
		t.Errorf("ap1b /status: %+v %v\n%s", st, err, body)
	}

	urls := []string{base(agents[0]), base(agents[1]) + "/status", base(agents[2])}
	code, out := runAgentCmd(t, nil, append([]string{"status"}, urls...)...)
	t.Logf("status table:\n%s", out)
	if code != 0 || !strings.Contains(out, "1 routable primary: ap1a") || !strings.Contains(out, "standby (backup)") ||
		!strings.Contains(out, "standby (async)") || !strings.Contains(out, "| Member ") {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	// A hung primary: mirror_status hangs and qlist says hung.
	ap1a.Set(t, "hang")
	waitCode(t, base(agents[0])+"/primary", 503, 3*time.Second)
	code, out = runAgentCmd(t, nil, append([]string{"status", "--timeout", "1s"}, urls...)...)
	if code != 1 || !strings.Contains(out, "NO routable primary") {
		t.Errorf("status with the primary hung: exit %d\n%s", code, out)
	}
	// qlist says hung at once; mirror_status's own timeout (counted in the
	// metrics below) comes a probe timeout later: keep the hang till then.
	timeouts := map[string]string{"probe": "mirror_status", "reason": "timeout"}
	for deadline := time.Now().Add(10 * time.Second); sample(scrapeMetrics(t, base(agents[0])+"/metrics"), "iris_mirror_agent_probe_errors_total", timeouts) < 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no mirror_status timeout counted while the primary hung")
		}
	}
	ap1a.Set(t, "primary")
	waitCode(t, base(agents[0])+"/primary", 200, 5*time.Second)

	// Two primaries (split brain), one agent unreachable: exit 1, a row
	// with the error, no crash; --json says the same.
	ap1b.Set(t, "primary")
	waitCode(t, base(agents[1])+"/primary", 200, 5*time.Second)
	gone := "http://" + l.IP(9) + ":9797"
	code, out = runAgentCmd(t, nil, append([]string{"status", "--timeout", "1s"}, append(urls, gone)...)...)
	if code != 1 || !strings.Contains(out, "2 routable primaries") || !strings.Contains(out, "connection refused") {
		t.Errorf("status with two primaries and a dead agent: exit %d\n%s", code, out)
	}
	code, out = runAgentCmd(t, nil, append([]string{"status", "--json", "--timeout", "1s"}, append(urls, gone)...)...)
	var rep struct {
		Members []struct {
			Error string `json:"error"`
		} `json:"members"`
		RoutablePrimaries []string `json:"routable_primaries"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || len(rep.RoutablePrimaries) != 2 || len(rep.Members) != 4 || rep.Members[3].Error == "" {
		t.Errorf("status --json: exit %d %v\n%s", code, err, out)
	}
	ap1b.Set(t, "backup")

	// Metrics: checks counted per interface, parsed by the Prometheus parser.
	for range 3 {
		codeOf(t, base(agents[0])+"/primary")
	}
	for range 2 {
		if _, err := itest.ReadLine(agents[0].AgentAddr(), "primary\n", 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// haproxy's external-check call, as haproxy makes it.
	code, out = runAgentCmd(t, []string{"HAPROXY_SERVER_ADDR=" + ap1a.IP, "HAPROXY_SERVER_NAME=ap1a"}, "NOT_USED", "NOT_USED", ap1a.IP, "1972")
	if code != 0 {
		t.Errorf("external check: %d %s", code, out)
	}
	fams := scrapeMetrics(t, base(agents[0])+"/metrics")
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"iris_mirror_agent_checks_total", map[string]string{"interface": "http", "check": "primary", "result": "pass"}, 3},
		{"iris_mirror_agent_checks_total", map[string]string{"interface": "agent-check", "check": "primary", "result": "pass"}, 2},
		{"iris_mirror_agent_checks_total", map[string]string{"interface": "external-check", "check": "primary", "result": "pass"}, 1},
		{"iris_mirror_agent_role", map[string]string{"role": "primary"}, 1},
		{"iris_mirror_agent_mirror_role", map[string]string{"mirror": "primary"}, 1},
		{"iris_mirror_agent_role_changes_total", nil, 1},
		{"iris_mirror_agent_probe_duration_seconds", map[string]string{"probe": "qlist"}, 3},
		{"iris_mirror_agent_probe_errors_total", map[string]string{"probe": "mirror_status", "reason": "timeout"}, 1},
	} {
		if got := sample(fams, c.name, c.labels); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
}

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	return itest.ScrapeMetrics(t, url)
}

// sample is the value of the first sample of name with labels, or -1.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if v, ok := itest.MetricValue(fams, name, labels); ok {
		return v
	}
	return -1
}

// TestMaintenanceDrainThroughHAProxy takes the primary out with its drain
// file in front of the real haproxy and the recommended agent-check.cfg,
// then does the planned failover the switch exists for.
func TestMaintenanceDrainThroughHAProxy(t *testing.T) {
	dir := t.TempDir()
	drain := func(member string) string { return filepath.Join(dir, member+".drain") }
	example := exampleAgent(t, "haproxy/agent-check.cfg")
	l := startLayoutFlags(t, func(m *itest.Member) []string {
		return append([]string{"--drain-file", drain(m.Name)}, example(m)...)
	})
	agentBin, _ := itest.Binaries(t)
	h := itest.StartHAProxy(t, itest.Example(t, "haproxy/agent-check.cfg"), l.hosts, []string{
		"HAPROXY_BIND_ADDR=" + l.front, "IRIS_MIRROR_AGENT=" + agentBin,
	})
	ap1 := l.front + ":1972"
	h.WaitServer(t, "ap1", "ap1a", "UP", 10*time.Second)
	h.WaitServer(t, "ap1", "ap1b", "DOWN", 10*time.Second)
	waitRouted(t, ap1, "ap1a", 5*time.Second)

	// Take ap1a out: haproxy puts it in MAINT (a planned stop, not a failure).
	t0 := time.Now()
	if err := os.WriteFile(drain("ap1a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.WaitServer(t, "ap1", "ap1a", "MAINT", 3*time.Second)
	t.Logf("drain file to haproxy MAINT: %v", time.Since(t0).Round(time.Millisecond))
	code, body := codeOf(t, "http://"+l.agents["ap1a"].HTTPAddr()+"/primary")
	if code != 503 || !strings.Contains(body, "maintenance") {
		t.Errorf("/primary in maintenance: %d %q", code, body)
	}
	if code, _ := codeOf(t, "http://"+l.agents["ap1a"].HTTPAddr()+"/live"); code != 200 {
		t.Errorf("/live in maintenance: %d (the agent works; a liveness probe must not restart it)", code)
	}
	if line, err := itest.ReadLine(ap1, "who\n", time.Second); err == nil {
		t.Errorf("with the only primary in maintenance, AP1 answered %q", line)
	}

	// The planned failover: ap1b takes over, ap1a becomes the backup.
	l.set(t, "ap1a", "backup", "ap1b", "primary")
	h.WaitServer(t, "ap1", "ap1b", "UP", 5*time.Second)
	waitRouted(t, ap1, "ap1b", 5*time.Second)

	// Maintenance over: ap1a leaves MAINT for DOWN (it is a backup now)
	// at the next answers, because every non-maintenance reply says ready.
	t1 := time.Now()
	if err := os.Remove(drain("ap1a")); err != nil {
		t.Fatal(err)
	}
	st := h.WaitServer(t, "ap1", "ap1a", "DOWN", 3*time.Second)
	t.Logf("drain file removed to haproxy DOWN (out of MAINT): %v, last_agt %q", time.Since(t1).Round(time.Millisecond), st["last_agt"])

	// And back to ap1a as primary: no trace of the maintenance.
	l.set(t, "ap1b", "backup", "ap1a", "primary")
	h.WaitServer(t, "ap1", "ap1a", "UP", 5*time.Second)
	waitRouted(t, ap1, "ap1a", 5*time.Second)
}
