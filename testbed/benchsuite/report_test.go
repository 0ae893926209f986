package benchsuite

import (
	"strings"
	"testing"
	"time"
)

func TestReportMarkdown(t *testing.T) {
	tbl := &Table{Title: "HTTP", Intro: "how", Head: []string{"a", "b"}, Notes: []string{"note"}}
	tbl.AddRow("1", "2")
	r := &Report{
		Smoke: true, Command: "go test -tags bench ./testbed/benchsuite", Date: time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC),
		Machine:  Machine{CPU: "cpu", Cores: 2, MemoryGB: 24, Kernel: "Linux 6 x86_64", Go: "go1.26"},
		Versions: []string{"haproxy: 2.6"}, Settings: "1 run", Tables: []*Table{tbl, {Title: "Empty"}},
		Errors: []string{"failover: failed"},
	}
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# Benchmarks", "SMOKE RUN", "```sh\ngo test -tags bench ./testbed/benchsuite\n```", "2026-11-26 16:00 UTC",
		"cpu, 2 cores, 24 GB memory", "- haproxy: 2.6", "## HTTP\n\nhow\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- note\n",
		"## Empty\n\n(no figures", "## Sections that failed\n\n- failover: failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	r.Smoke = false
	b.Reset()
	_ = r.Write(&b)
	if strings.Contains(b.String(), "SMOKE") {
		t.Error("a full run must not be labelled a smoke run")
	}
}
