package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// pendingREADME lists README lines that quote what an example used to
// say, with what replaced them, until the README rewrite (another
// helper's) takes them out. The test fails once a listed line has left
// the README, so this list cannot outlive its reason.
var pendingREADME = map[string]string{
	`external-check command "${IRIS_MIRROR_AGENT-/usr/local/bin/iris-mirror-agent}"`: "examples/haproxy/external-check.cfg runs iris-mirror-check (docs/external-check.md)",
}

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
	seenPending := map[string]bool{}
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, page)
		blocks := 0
		in := false
		for i, line := range strings.Split(string(text), "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case trimmed == "```haproxy":
				in, blocks = true, blocks+1
			case in && trimmed == "```":
				in = false
			case in && trimmed != "" && !examples[trimmed]:
				if why, ok := pendingREADME[trimmed]; ok && name == "README.md" {
					seenPending[trimmed] = true
					t.Logf("README.md:%d: %q waits for the README rewrite: %s", i+1, trimmed, why)
					continue
				}
				t.Errorf("%s:%d: %q is in no examples/haproxy/*.cfg", name, i+1, trimmed)
			}
		}
		if name == "README.md" && blocks < 2 {
			t.Fatalf("found %d haproxy blocks in README, want the agent-check and external-check snippets", blocks)
		}
	}
	for line := range pendingREADME {
		if !seenPending[line] {
			t.Errorf("README.md no longer holds %q: drop it from pendingREADME", line)
		}
	}
}
