package itest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// reportDir is where -report writes the measured tables (relative to the
// module root): go test ./testbed/integration -run X -args -report docs/reports
var reportDir = flag.String("report", "", "write each measured table into a markdown report in this directory, relative to the module root (docs/reports)")

// reportFiles names the report files and their titles.
var reportFiles = map[string]string{
	"scenarios.md": "The reference deployment's scenarios, measured",
	"failover.md":  "Failover through haproxy, nginx and Caddy, measured",
	"faults.md":    "IRIS and network faults, measured",
	"hostile.md":   "Hostile clients, measured",
}

var reportMu sync.Mutex

// Report logs a measured table and, when the tests run with -report DIR,
// writes it as the section title of DIR/file, replacing the section of the
// same title and keeping the others. Each section says when, where and by
// which command it was measured, so prose can link to it instead of
// copying its numbers.
func Report(t testing.TB, file, title, intro, table string) {
	t.Helper()
	t.Logf("%s\n%s\n%s", title, intro, table)
	if *reportDir == "" {
		return
	}
	heading, ok := reportFiles[file]
	if !ok {
		t.Fatalf("report %s: not in itest.reportFiles", file)
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	path := filepath.Join(Root(t), *reportDir, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	sections := reportSections(string(old))
	body := fmt.Sprintf("%s\n\n%s\n\n%s\n", strings.TrimSpace(intro), measuredBy(t), strings.TrimSpace(table))
	replaced := false
	for i := range sections {
		if sections[i][0] == title {
			sections[i][1], replaced = body, true
		}
	}
	if !replaced {
		sections = append(sections, [2]string{title, body})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n<!-- Written by the tests (itest.Report); each section names the command that regenerates it. Do not edit. -->\n", heading)
	for _, s := range sections {
		fmt.Fprintf(&b, "\n## %s\n\n%s", s[0], s[1])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reportSections splits a report into its (title, body) sections.
func reportSections(text string) [][2]string {
	var out [][2]string
	parts := strings.Split(text, "\n## ")
	for _, p := range parts[1:] {
		title, body, _ := strings.Cut(p, "\n")
		out = append(out, [2]string{title, strings.TrimLeft(body, "\n")})
	}
	return out
}

// measuredBy is a section's provenance: date, machine, load and command.
func measuredBy(t testing.TB) string {
	t.Helper()
	uname, err := exec.Command("uname", "-srm").Output()
	if err != nil {
		uname = []byte(runtime.GOOS + " " + runtime.GOARCH)
	}
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			load = f[0]
		}
	}
	pkg := "./..."
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(Root(t), wd); err == nil {
			pkg = "./" + filepath.ToSlash(rel)
		}
	}
	test, _, _ := strings.Cut(t.Name(), "/")
	return fmt.Sprintf("Measured %s on `%s`, %d CPUs, load average %s at the end, %s, by\n`go test -count=1 -run '^%s$' %s -args -report %s`.",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(string(uname)), runtime.NumCPU(), load, runtime.Version(),
		test, pkg, filepath.ToSlash(*reportDir))
}
