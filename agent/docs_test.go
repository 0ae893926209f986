package agent

import (
	"os"
	"regexp"
	"testing"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/metrics"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// TestMetricsAreDocumented: every metric family an agent with a gate
// serves is named in docs/operations.md's metrics table (as
// `iris_mirror_agent_NAME` or `_NAME`), so a new metric gets a line there.
func TestMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := startMember(t, simulator.Primary)
	a, err := New(settings(t, m, "--gate", freeAddr(t)+"="+m.SuperServerAddr), Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	run(t, a)
	code, body := get("http://" + a.HTTPAddr() + "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	families := regexp.MustCompile(`(?m)^# TYPE `+metrics.Prefix+`(\w+) `).FindAllStringSubmatch(body, -1)
	if len(families) < 10 {
		t.Fatalf("%d families in /metrics:\n%s", len(families), body)
	}
	for _, f := range families {
		named := regexp.MustCompile("`(" + metrics.Prefix + ")?_?" + f[1] + "[`{]")
		if !named.Match(doc) {
			t.Errorf("%s%s is not in docs/operations.md's metrics table: add a line for it", metrics.Prefix, f[1])
		}
	}
}
