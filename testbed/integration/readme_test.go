package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestREADMEHAProxySnippetsAreTheExamples keeps the haproxy snippets of
// README.md and docs/*.md honest: every line of a ```haproxy block must
// appear, as is, in one of the example configurations the integration
// tests run.
func TestREADMEHAProxySnippetsAreTheExamples(t *testing.T) {
	root := itest.Root(t)
	files, _ := filepath.Glob(filepath.Join(root, "examples", "haproxy", "*.cfg"))
	examples := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			// A snippet may show what haproxy reads with the variables
			// unset: "${AP1A_HOST-ap1a}:1972" as ap1a:1972.
			examples[strings.TrimSpace(line)] = true
			examples[expandHAProxyDefaults(strings.TrimSpace(line))] = true
		}
	}
	pages, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	pages = append([]string{filepath.Join(root, "README.md")}, pages...)
	blocks := 0
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, page)
		in := false
		for i, line := range strings.Split(string(text), "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case trimmed == "```haproxy":
				in, blocks = true, blocks+1
			case in && trimmed == "```":
				in = false
			case in && trimmed != "" && !examples[trimmed]:
				t.Errorf("%s:%d: %q is in no examples/haproxy/*.cfg", name, i+1, trimmed)
			}
		}
	}
	if blocks < 2 {
		t.Fatalf("found %d haproxy blocks in README.md and docs/, want the agent-check and external-check snippets at least", blocks)
	}
}
