package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestREADMEHAProxySnippetsAreTheExamples keeps README's haproxy snippets
// honest: every line of a ```haproxy block must appear, as is, in one of
// the example configurations the integration tests run.
func TestREADMEHAProxySnippetsAreTheExamples(t *testing.T) {
	root := itest.Root(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "examples", "haproxy", "*.cfg"))
	var examples []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			// A snippet may show what haproxy reads with the variables
			// unset: "${AP1A_HOST-ap1a}:1972" as ap1a:1972.
			examples = append(examples, strings.TrimSpace(line), expandHAProxyDefaults(strings.TrimSpace(line)))
		}
	}
	blocks := 0
	in := false
	for i, line := range strings.Split(string(readme), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "```haproxy":
			in, blocks = true, blocks+1
		case in && trimmed == "```":
			in = false
		case in && trimmed != "":
			found := false
			for _, e := range examples {
				if e == trimmed {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("README.md:%d: %q is in no examples/haproxy/*.cfg", i+1, trimmed)
			}
		}
	}
	if blocks < 2 {
		t.Fatalf("found %d haproxy blocks in README, want the agent-check and external-check snippets", blocks)
	}
}
