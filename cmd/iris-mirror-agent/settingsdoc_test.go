package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/config"
)

// updateDocs rewrites the generated documentation instead of comparing it.
var updateDocs = flag.Bool("update", false, "rewrite docs/settings.md from the settings structs")

// settingsDocPath is the generated page, from this package's directory.
const settingsDocPath = "../../docs/settings.md"

// regenerate is the command that rewrites docs/settings.md.
const regenerate = "go test ./cmd/iris-mirror-agent -run TestSettingsDoc -update"

// settingsOf names the settings struct each subcommand loads. The test
// checks it against the command's own --help, so an entry cannot name a
// struct the command does not use.
var settingsOf = map[string]any{
	"serve":       &config.Serve{},
	"check":       &checkSettings{},
	"healthcheck": &healthcheckSettings{},
	"status":      &statusSettings{},
	"poke":        &adminSettings{},
	"maintenance": &adminSettings{},
	"fence":       &config.Fence{},
}

// settingsHeader starts the settings part of every --help (config.Usage).
const settingsHeader = "\n\nSettings (a flag wins over its environment variable):\n"

// TestSettingsDoc keeps docs/settings.md equal to what the settings
// structs say, and each command's --help made from the same struct: a
// setting added, renamed or re-documented shows in both or the test fails.
func TestSettingsDoc(t *testing.T) {
	page := renderSettingsDoc(t)
	if *updateDocs {
		if err := os.WriteFile(settingsDocPath, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(settingsDocPath)
	if err != nil {
		t.Fatalf("docs/settings.md: %v (run %s)", err, regenerate)
	}
	if string(got) != page {
		t.Fatalf("docs/settings.md is stale: the settings changed. Run\n\t%s\nand commit the page.\n%s", regenerate, firstDiff(string(got), page))
	}
}

// renderSettingsDoc builds the page from every subcommand of the command
// table, in its order.
func renderSettingsDoc(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `# Settings of every command

<!-- Generated from the settings structs by %s; do not edit. -->

For operators who configure the agent. Every setting is a flag and a
`+"`MIRROR_AGENT_*`"+` environment variable; the flag wins. A bad value stops the
command before it does anything, with one line naming the setting and exit
code 2 (`+"`healthcheck`"+`: 1, since Docker reserves 2):

`+"```"+`
iris-mirror-agent serve: invalid --interval "0s" (env MIRROR_AGENT_INTERVAL): must be greater than 0
`+"```"+`

Flags may come before or after a command's arguments. `+"`iris-mirror-agent\nCOMMAND --help`"+` prints the same settings, from the same source. Durations
are Go durations (`+"`250ms`, `2s`, `1m`"+`); a list takes the flag once per item
or the variable comma-separated.

`, regenerate)
	for _, c := range commands {
		fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", c.name, c.name, c.summary)
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "\n## %s\n\n", c.name)
		var help, errOut bytes.Buffer
		code := run(context.Background(), []string{c.name, "--help"}, nil, &help, &errOut)
		synopsis, _, hasSettings := strings.Cut(help.String(), settingsHeader)
		cfg, known := settingsOf[c.name]
		switch {
		case known && (code != ExitOK || !hasSettings):
			t.Fatalf("%s --help: exit %d, no settings listed:\n%s%s", c.name, code, help.String(), errOut.String())
		case hasSettings && !known:
			t.Fatalf("command %s has settings (its --help lists them) but no struct in settingsOf: add it in cmd/iris-mirror-agent/settingsdoc_test.go, then run\n\t%s", c.name, regenerate)
		case !known:
			fmt.Fprintf(&b, "%s. No settings.\n", capitalize(c.summary))
			continue
		}
		settings, err := config.Settings(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		config.Usage(&want, c.name, synopsis, settings)
		if help.String() != want.String() {
			t.Fatalf("%s --help is not made from settingsOf[%q] (%T): fix the map\n%s", c.name, c.name, cfg, firstDiff(help.String(), want.String()))
		}
		fmt.Fprintf(&b, "```\n%s\n```\n\n", strings.TrimSpace(synopsis))
		b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
		for _, s := range settings {
			flagCol := "`--" + s.Flag + "`"
			if s.Kind != "bool" {
				flagCol = "`--" + s.Flag + " " + s.Kind + "`"
			}
			def := ""
			if s.Default != "" {
				def = "`" + s.Default + "`"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", flagCol, s.Env, def, cell(s.Help))
		}
		if also := envOnly(cfg); len(also) > 0 {
			fmt.Fprintf(&b, "\nIt also reads serve's %s, to find the local agent.\n", strings.Join(also, " and "))
		}
	}
	return b.String()
}

// envOnly lists the variables a struct reads without a flag (healthcheck
// reads serve's listen address and certificate).
func envOnly(cfg any) []string {
	var out []string
	typ := reflect.TypeOf(cfg).Elem()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if env, ok := f.Tag.Lookup("env"); ok && f.Tag.Get("flag") == "" {
			out = append(out, "`"+config.Prefix+env+"`")
		}
	}
	return out
}

// cell escapes text for a markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// firstDiff shows the first line where two texts differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  have: %s\n  want: %s", i+1, gl, wl)
		}
	}
	return ""
}
