package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// A real Prometheus (Debian's) scraping two real agents beside simulated
// members of one mirror set, with examples/prometheus's rules (the same
// expressions, shorter for:) and the relabelling of its Kubernetes
// example: a failover with no primary, then two primaries, then an agent
// killed, each read back from Prometheus's /api/v1/alerts.

// The settings of the test; every wait below is derived from them.
const (
	promScrape = 250 * time.Millisecond // scrape_interval (and scrape_timeout)
	promEval   = 250 * time.Millisecond // evaluation_interval
	promFor    = time.Second            // every for: of the rules, in the test copy
)

// forLine is a rule's for: line.
var forLine = regexp.MustCompile(`(?m)^(\s+for:\s*)\S+\s*$`)

// shortenFor returns the rules with every for: set to d, and checks that
// nothing but the for: lines changed: the expressions are the example's.
func shortenFor(t *testing.T, rules string, d time.Duration) string {
	t.Helper()
	out := forLine.ReplaceAllString(rules, "${1}"+d.String())
	if forLine.ReplaceAllString(rules, "") != forLine.ReplaceAllString(out, "") {
		t.Fatal("shortening for: changed more than the for: lines")
	}
	return out
}

func TestPrometheusAlertsFailover(t *testing.T) {
	itest.RequireTool(t, "prometheus")
	net := itest.NewLoopback(t)
	ap1a := itest.StartMember(t, "ap1a", net.IP(1), "primary")
	ap1b := itest.StartMember(t, "ap1b", net.IP(2), "backup")
	agents := map[string]*itest.Agent{
		"ap1a": itest.StartAgent(t, ap1a, fastAgent...),
		"ap1b": itest.StartAgent(t, ap1b, fastAgent...),
	}

	dir := filepath.Join(itest.Root(t), "examples", "prometheus")
	rules, err := os.ReadFile(filepath.Join(dir, "iris-mirror-agent-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// Pods as Kubernetes would list them: the two agents, and two ports
	// the relabelling must drop (IRIS's own web port; an agent in a pod
	// without a mirror-set label).
	conf := kubernetesStandIn(t, filepath.Join(dir, "prometheus-kubernetes.yml"),
		map[string]any{"scrape_interval": promScrape.String(), "scrape_timeout": promScrape.String(), "evaluation_interval": promEval.String()},
		[]fakePod{
			{Namespace: "iris", Name: "ap1-0", MirrorSet: "ap1", Container: "agent", Port: "http", Addr: agents["ap1a"].HTTPAddr()},
			{Namespace: "iris", Name: "ap1-1", MirrorSet: "ap1", Container: "agent", Port: "http", Addr: agents["ap1b"].HTTPAddr()},
			{Namespace: "iris", Name: "ap1-0", MirrorSet: "ap1", Container: "iris", Port: "web", Addr: ap1a.WebAddr()},
			{Namespace: "iris", Name: "other-0", Container: "agent", Port: "http", Addr: net.IP(9) + ":9797"},
		})
	p := itest.StartPrometheus(t, map[string]string{
		"prometheus.yml":              conf,
		"iris-mirror-agent-rules.yml": shortenFor(t, string(rules), promFor),
	})

	// One round of everything between a member's change and an alert's
	// state: the agent sees it (interval + timeout), a scrape carries it,
	// a rule evaluation counts it, for: elapses, the next evaluation fires.
	round := agentTiming(t, "--interval") + agentTiming(t, "--timeout") + promScrape + promFor + 2*promEval
	// Generous: the machine is shared, Prometheus and the agents are slow
	// to start under load, and waiting longer costs only a failing run.
	deadline := 20 * round
	w := &alertWatch{t: t, p: p, poll: promEval / 2, deadline: deadline}

	waitTargets(t, p, deadline, map[string]string{"iris/ap1-0": "up", "iris/ap1-1": "up"}, 2)
	// Scraped before its first probe round, an agent says "not routable":
	// the set may start with IRISMirrorNoPrimary pending. It must clear.
	w.until("start: one primary, no alert", []string{"IRISMirrorNoPrimary"}, func(active []itest.PromAlert) bool {
		n, err := p.Query("mirror_set:iris_mirror_agent_routable_primaries:count")
		return len(active) == 0 && err == nil && len(n) == 1 && n[0].Metric["mirror_set"] == "ap1" && n[0].Value[1] == "1"
	})

	type row struct{ step, alert, fired, resolved string }
	var rows []row

	t0 := time.Now()
	ap1a.Set(t, "backup")
	fired := w.until("ap1a demoted, no primary", []string{"IRISMirrorNoPrimary"}, firingExactly("IRISMirrorNoPrimary", "mirror_set", "ap1"))
	checkFor(t, "IRISMirrorNoPrimary", fired.Sub(t0))
	checkAnnotations(t, w.last, "IRISMirrorNoPrimary", "ap1")

	t1 := time.Now()
	ap1a.Set(t, "primary")
	ap1b.Set(t, "primary")
	var noPrimaryGone time.Time
	fired2 := w.until("both primary", []string{"IRISMirrorNoPrimary", "IRISMirrorTwoPrimaries"}, func(active []itest.PromAlert) bool {
		if noPrimaryGone.IsZero() && !hasAlert(active, "IRISMirrorNoPrimary") {
			noPrimaryGone = time.Now()
		}
		return firingExactly("IRISMirrorTwoPrimaries", "mirror_set", "ap1")(active)
	})
	checkFor(t, "IRISMirrorTwoPrimaries", fired2.Sub(t1))
	checkAnnotations(t, w.last, "IRISMirrorTwoPrimaries", "ap1")
	rows = append(rows, row{"ap1a demoted (no primary), then ap1a and ap1b primary", "IRISMirrorNoPrimary",
		ms(fired.Sub(t0)), ms(noPrimaryGone.Sub(t1))})

	t2 := time.Now()
	ap1b.Set(t, "backup")
	resolved := w.until("ap1b demoted, one primary", []string{"IRISMirrorTwoPrimaries"}, noAlerts)
	rows = append(rows, row{"ap1a and ap1b primary, then ap1b demoted", "IRISMirrorTwoPrimaries", ms(fired2.Sub(t1)), ms(resolved.Sub(t2))})

	// An agent killed: its member is a backup, so the set keeps its
	// primary and only the agent is reported.
	t3 := time.Now()
	agents["ap1b"].Proc.Kill()
	fired3 := w.until("ap1b's agent killed", []string{"IRISMirrorAgentDown"}, firingExactly("IRISMirrorAgentDown", "instance", "iris/ap1-1"))
	checkFor(t, "IRISMirrorAgentDown", fired3.Sub(t3))
	checkAnnotations(t, w.last, "IRISMirrorAgentDown", "iris/ap1-1")
	t4 := time.Now()
	itest.StartAgent(t, ap1b, fastAgent...)
	resolved3 := w.until("ap1b's agent restarted", []string{"IRISMirrorAgentDown"}, noAlerts)
	rows = append(rows, row{"ap1b's agent killed, then restarted", "IRISMirrorAgentDown", ms(fired3.Sub(t3)), ms(resolved3.Sub(t4))})

	var b strings.Builder
	fmt.Fprintf(&b, "Prometheus alerts (scrape and evaluation every %v, for: %v; agents %s; %d polls of /api/v1/alerts):\n",
		promScrape, promFor, strings.Join(fastAgent, " "), w.polls)
	b.WriteString("| change | alert | fired after | resolved after the fix |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.step, r.alert, r.fired, r.resolved)
	}
	t.Log(b.String())
}

// alertWatch polls Prometheus's active alerts.
type alertWatch struct {
	t        *testing.T
	p        *itest.Prometheus
	poll     time.Duration
	deadline time.Duration
	last     []itest.PromAlert
	polls    int
}

// until polls until done holds and returns when it did. Any active alert
// (pending or firing) not named in allowed fails the test: the right
// alerts fire, and only they.
func (w *alertWatch) until(what string, allowed []string, done func([]itest.PromAlert) bool) time.Time {
	w.t.Helper()
	end := time.Now().Add(w.deadline)
	var lastErr error
	for {
		active, err := w.p.Alerts()
		w.polls++
		if err == nil {
			w.last = active
			for _, a := range active {
				if !contains(allowed, a.Labels["alertname"]) {
					w.t.Fatalf("%s: unexpected alert %s (%s) %v", what, a.Labels["alertname"], a.State, a.Labels)
				}
			}
			if done(active) {
				return time.Now()
			}
		}
		lastErr = err
		if time.Now().After(end) {
			w.t.Fatalf("%s: not reached within %v; active alerts %s (%v)", what, w.deadline, describeAlerts(w.last), lastErr)
		}
		time.Sleep(w.poll)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func noAlerts(active []itest.PromAlert) bool { return len(active) == 0 }

func hasAlert(active []itest.PromAlert, name string) bool {
	for _, a := range active {
		if a.Labels["alertname"] == name {
			return true
		}
	}
	return false
}

// firingExactly holds when the only active alert is name, firing, with
// label = value.
func firingExactly(name, label, value string) func([]itest.PromAlert) bool {
	return func(active []itest.PromAlert) bool {
		return len(active) == 1 && active[0].State == "firing" &&
			active[0].Labels["alertname"] == name && active[0].Labels[label] == value
	}
}

// checkFor fails if an alert fired sooner after its cause than its for:.
func checkFor(t *testing.T, name string, after time.Duration) {
	t.Helper()
	if after < promFor {
		t.Errorf("%s fired %v after the change, before its for: %v", name, after, promFor)
	}
}

// checkAnnotations checks that the firing alert name says what it is about
// and links its runbook.
func checkAnnotations(t *testing.T, active []itest.PromAlert, name, about string) {
	t.Helper()
	for _, a := range active {
		if a.Labels["alertname"] != name {
			continue
		}
		if !strings.Contains(a.Annotations["summary"], about) {
			t.Errorf("%s: summary %q does not name %s", name, a.Annotations["summary"], about)
		}
		if !strings.HasSuffix(a.Annotations["runbook_url"], "docs/alerts.md#"+strings.ToLower(name)) {
			t.Errorf("%s: runbook_url %q", name, a.Annotations["runbook_url"])
		}
		if a.Labels["severity"] == "" {
			t.Errorf("%s: no severity", name)
		}
		return
	}
	t.Errorf("%s is not active", name)
}

func describeAlerts(active []itest.PromAlert) string {
	var s []string
	for _, a := range active {
		s = append(s, fmt.Sprintf("%s(%s %s)", a.Labels["alertname"], a.State, a.Labels["mirror_set"]+a.Labels["instance"]))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

// waitTargets waits until Prometheus scrapes exactly the instances given,
// each with its health, as job iris-mirror-agent with mirror_set ap1
// (relabelled from the pod labels), and dropped the other targets.
func waitTargets(t *testing.T, p *itest.Prometheus, d time.Duration, want map[string]string, dropped int) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		active, drop, err := p.Targets()
		ok := err == nil && len(active) == len(want) && len(drop) == dropped
		for _, a := range active {
			l := a.Labels
			if want[l["instance"]] != a.Health || l["job"] != "iris-mirror-agent" || l["mirror_set"] != "ap1" {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("targets not as wanted within %v: active %+v, %d dropped (%v)", d, active, len(drop), err)
		}
		time.Sleep(promScrape)
	}
}
