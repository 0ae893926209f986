// Command iris-mirror-agent runs beside an IRIS mirror member and tells
// load balancers whether that member is the primary.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// command is one subcommand: its name, its line in the usage, and what
// runs it. Each lives in its own file with its own settings.
type command struct {
	name, summary string
	run           func(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"serve", "probe this member and answer balancers (HTTP, haproxy agent-check, gates)", runServe},
	{"check", "one-shot check; exit 0 if the member is a routable primary", runCheck},
	{"healthcheck", "Docker HEALTHCHECK: exit 0 if the local agent is live", runHealthcheck},
	{"status", "ask several agents and print the mirror as a table", runStatus},
	{"poke", "ask the local agent for a probe round now (from ^ZMIRROR)", runPoke},
	{"maintenance", "take the local member out of every balancer, or put it back", runMaintenance},
	{"fence", "show, open or close this member's kernel fence (serve --fence)", runFence},
	{"version", "print the version", func(_ context.Context, _, _ []string, stdout, _ io.Writer) int { return runVersion(stdout) }},
}

// usage lists the commands.
func usage() string {
	var b strings.Builder
	b.WriteString("Usage: iris-mirror-agent <command> [settings]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run "iris-mirror-agent <command> --help" for a command's settings.
When haproxy runs this binary as its external-check command, it checks the
server it was given; iris-mirror-check does that job at a fraction of the
cost (see docs/external-check.md).
`)
	return b.String()
}

func main() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if inv, ok := extcheck.Detect(args, extcheck.Lookup(environ)); ok {
		return runExternalCheck(ctx, inv, extcheck.ConfigPath, stdout)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return ExitUsage
	}
	switch args[0] {
	case "--version":
		return runVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
		return ExitOK
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], environ, stdout, stderr)
		}
		names[i] = c.name
	}
	fmt.Fprintf(stderr, "iris-mirror-agent: unknown command %q (try %s)\n", args[0], strings.Join(names, ", "))
	return ExitUsage
}
