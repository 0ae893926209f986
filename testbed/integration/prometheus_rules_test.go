package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// The Prometheus examples (examples/prometheus) checked with Debian's
// promtool: the rules parse, their unit tests pass and cover every alert
// both ways, the scrape configurations parse, and every runbook link
// lands on a section of docs/alerts.md.

// promRule is one rule of a rule file.
type promRule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type promRuleFile struct {
	Groups []struct {
		Name  string     `yaml:"name"`
		Rules []promRule `yaml:"rules"`
	} `yaml:"groups"`
}

// promExamples returns the rule files and their unit-test files under
// examples/prometheus (the tests match *rules*.yml too: *_test.yml).
func promExamples(t *testing.T) (dir string, rules, tests []string) {
	t.Helper()
	dir = filepath.Join(itest.Root(t), "examples", "prometheus")
	files, err := filepath.Glob(filepath.Join(dir, "*rules*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yml") {
			tests = append(tests, f)
		} else {
			rules = append(rules, f)
		}
	}
	if len(rules) == 0 || len(tests) == 0 {
		t.Fatalf("%s: want rule files and their *_test.yml, found %v and %v", dir, rules, tests)
	}
	return dir, rules, tests
}

// readYAML decodes a YAML file strictly: an unknown field is an error.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readRules(t *testing.T, path string) []promRule {
	t.Helper()
	var rf promRuleFile
	readYAML(t, path, &rf)
	var out []promRule
	for _, g := range rf.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// promtool runs Debian's promtool in dir.
func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin := itest.RequireTool(t, "promtool")
	argv := append([]string{"/bin/sh", "-c", `cd "$1" && shift && exec "$@"`, "sh", dir, bin}, args...)
	out, err := itest.Run(argv, nil, 2*time.Minute)
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), strings.TrimSpace(out))
}

// TestPrometheusRules checks the rule files and runs their unit tests,
// and checks that the unit tests have, for every alert, a case where it
// fires and one where it does not.
func TestPrometheusRules(t *testing.T) {
	dir, rules, tests := promExamples(t)
	for _, f := range rules {
		promtool(t, dir, "check", "rules", filepath.Base(f))
	}
	for _, f := range tests {
		promtool(t, dir, "test", "rules", filepath.Base(f))
	}

	type cases struct{ fires, quiet int }
	covered := map[string]*cases{}
	for _, f := range tests {
		var doc struct {
			RuleFiles          []string `yaml:"rule_files"`
			EvaluationInterval string   `yaml:"evaluation_interval"`
			Tests              []struct {
				Name          string           `yaml:"name"`
				Interval      string           `yaml:"interval"`
				InputSeries   []map[string]any `yaml:"input_series"`
				PromQLExpr    []map[string]any `yaml:"promql_expr_test"`
				AlertRuleTest []struct {
					EvalTime  string           `yaml:"eval_time"`
					Alertname string           `yaml:"alertname"`
					ExpAlerts []map[string]any `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		readYAML(t, f, &doc)
		for _, tc := range doc.Tests {
			for _, a := range tc.AlertRuleTest {
				c := covered[a.Alertname]
				if c == nil {
					c = &cases{}
					covered[a.Alertname] = c
				}
				if len(a.ExpAlerts) > 0 {
					c.fires++
				} else {
					c.quiet++
				}
			}
		}
	}
	for _, f := range rules {
		for _, r := range readRules(t, f) {
			if r.Alert == "" {
				continue
			}
			c := covered[r.Alert]
			if c == nil || c.fires == 0 || c.quiet == 0 {
				t.Errorf("%s: alert %s needs a unit test where it fires and one where it does not (have %+v)", filepath.Base(f), r.Alert, c)
			}
		}
	}
}

// runbookAnchor matches the runbook link every alert carries.
var runbookAnchor = regexp.MustCompile(`^https://github\.com/irismirror/iris-mirror-agent/blob/main/docs/alerts\.md#([a-z0-9-]+)$`)

// TestAlertRunbooks checks that every alert has a severity, a summary, a
// description and a runbook link to a section of docs/alerts.md.
func TestAlertRunbooks(t *testing.T) {
	_, rules, _ := promExamples(t)
	doc, err := os.ReadFile(filepath.Join(itest.Root(t), "docs", "alerts.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(doc))
	alerts := 0
	for _, f := range rules {
		for _, r := range readRules(t, f) {
			if r.Alert == "" {
				continue
			}
			alerts++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			m := runbookAnchor.FindStringSubmatch(r.Annotations["runbook_url"])
			if m == nil {
				t.Errorf("%s: runbook_url %q is not a link to docs/alerts.md#section", r.Alert, r.Annotations["runbook_url"])
				continue
			}
			if !anchors[m[1]] {
				t.Errorf("%s: docs/alerts.md has no section #%s", r.Alert, m[1])
			}
			if m[1] != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook anchor #%s, want the alert's own section #%s", r.Alert, m[1], strings.ToLower(r.Alert))
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alerts found")
	}
}

// markdownAnchors returns the anchors GitHub gives a document's headings:
// lower case, punctuation dropped, spaces turned into hyphens.
func markdownAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}

// TestPrometheusConfigExamples checks the scrape configurations with
// promtool check config. Debian's Prometheus is built without Kubernetes
// discovery, so the Kubernetes example is checked with its discovery
// replaced by static targets labelled as pod discovery labels them:
// everything else in the file (relabelling, rule files) is checked as is.
func TestPrometheusConfigExamples(t *testing.T) {
	dir, _, _ := promExamples(t)
	promtool(t, dir, "check", "config", "prometheus.yml")

	tmp := t.TempDir()
	rules, err := os.ReadFile(filepath.Join(dir, "iris-mirror-agent-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "iris-mirror-agent-rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	conf := kubernetesStandIn(t, filepath.Join(dir, "prometheus-kubernetes.yml"), nil, []fakePod{
		{Namespace: "iris", Name: "ap1-0", MirrorSet: "ap1", Container: "agent", Port: "http", Addr: "10.0.0.5:9797"},
	})
	if err := os.WriteFile(filepath.Join(tmp, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, tmp, "check", "config", "prometheus.yml")
}

// fakePod is a container port as Prometheus's Kubernetes pod discovery
// reports it (the __meta_kubernetes_* labels relabelling reads).
type fakePod struct {
	Namespace, Name, MirrorSet, Container, Port, Addr string
}

// kubernetesStandIn reads a Prometheus configuration and replaces every
// kubernetes_sd_configs with static targets carrying the labels pod
// discovery would give pods. global, if set, replaces the global section.
// The relabelling and everything else stay as in the file.
func kubernetesStandIn(t *testing.T, path string, global map[string]any, pods []fakePod) string {
	t.Helper()
	var conf map[string]any
	readYAML(t, path, &conf)
	if global != nil {
		conf["global"] = global
	}
	var groups []any
	for _, p := range pods {
		labels := map[string]string{
			"__meta_kubernetes_namespace":               p.Namespace,
			"__meta_kubernetes_pod_name":                p.Name,
			"__meta_kubernetes_pod_container_name":      p.Container,
			"__meta_kubernetes_pod_container_port_name": p.Port,
		}
		if p.MirrorSet != "" {
			labels["__meta_kubernetes_pod_label_mirror_set"] = p.MirrorSet
		}
		groups = append(groups, map[string]any{"targets": []string{p.Addr}, "labels": labels})
	}
	jobs, _ := conf["scrape_configs"].([]any)
	replaced := 0
	for _, j := range jobs {
		job, _ := j.(map[string]any)
		if _, ok := job["kubernetes_sd_configs"]; ok {
			delete(job, "kubernetes_sd_configs")
			job["static_configs"] = groups
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatalf("%s: no kubernetes_sd_configs to stand in for", path)
	}
	out, err := yaml.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
