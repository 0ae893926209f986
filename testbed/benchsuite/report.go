package benchsuite

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Table is one section's figures.
type Table struct {
	Title string
	Intro string // what was measured and how
	Head  []string
	Rows  [][]string
	Notes []string // after the table: targets, explanations, limits
}

// AddRow appends one row; it must have as many cells as Head.
func (t *Table) AddRow(cells ...string) { t.Rows = append(t.Rows, cells) }

// Markdown renders the table as a level-2 section.
func (t *Table) Markdown(b *strings.Builder) {
	fmt.Fprintf(b, "## %s\n\n", t.Title)
	if t.Intro != "" {
		b.WriteString(t.Intro + "\n\n")
	}
	if len(t.Rows) > 0 {
		b.WriteString("| " + strings.Join(t.Head, " | ") + " |\n")
		b.WriteString("|" + strings.Repeat("---|", len(t.Head)) + "\n")
		for _, row := range t.Rows {
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
	} else {
		b.WriteString("(no figures: the section did not run)\n")
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.Notes {
			b.WriteString("- " + n + "\n")
		}
	}
}

// Report is the whole of BENCHMARKS.md.
type Report struct {
	Smoke    bool
	Command  string
	Date     time.Time
	Machine  Machine
	Versions []string // "haproxy 2.6.12", "wrk 4.1.0"...
	Settings string   // runs, durations
	Tables   []*Table
	Errors   []string // sections that failed, with the reason
}

// Write renders the report as Markdown.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	if r.Smoke {
		b.WriteString("> **SMOKE RUN.** These figures come from a short smoke run (one run of each, " +
			"loads of about one second, on a machine shared with other work). They show that the " +
			"suite works end to end; they are not measurements. Regenerate on a quiet machine " +
			"with the command below before quoting any figure.\n\n")
	}
	fmt.Fprintf(&b, "Regenerate with:\n\n```sh\n%s\n```\n\n", r.Command)
	fmt.Fprintf(&b, "- Date: %s\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s, %d cores, %.0f GB memory, %s\n", r.Machine.CPU, r.Machine.Cores, r.Machine.MemoryGB, r.Machine.Kernel)
	fmt.Fprintf(&b, "- Go: %s\n", r.Machine.Go)
	for _, v := range r.Versions {
		fmt.Fprintf(&b, "- %s\n", v)
	}
	fmt.Fprintf(&b, "- Settings: %s\n", r.Settings)
	b.WriteString("\nEach figure is the median of the runs, with the minimum and maximum in " +
		"parentheses; each baseline is measured in the same run, interleaved with what it is " +
		"compared to. The load generators share the machine's cores with the servers they " +
		"measure, so absolute figures depend on the machine and only the ratios compare.\n")
	for _, t := range r.Tables {
		b.WriteString("\n")
		t.Markdown(&b)
	}
	if len(r.Errors) > 0 {
		b.WriteString("\n## Sections that failed\n\n")
		for _, e := range r.Errors {
			b.WriteString("- " + e + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
