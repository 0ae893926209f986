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

	"github.com/irismirror/iris-mirror-agent/haproxy"
)

const usage = `Usage: iris-mirror-agent <command> [settings]

Commands:
  serve        probe this member and answer balancers (HTTP and haproxy agent-check)
  check        one-shot check; exit 0 if the member is a routable primary
  healthcheck  Docker HEALTHCHECK: exit 0 if the local agent is live
  status       ask several agents and print the mirror as a table
  poke         ask the local agent for a probe round now (from ^ZMIRROR)
  maintenance  take the local member out of every balancer, or put it back
  fence        show, open or close this member's kernel fence (serve --fence)
  version      print the version

Run "iris-mirror-agent <command> --help" for a command's settings.
When haproxy runs this binary as its external-check command, it checks the
server it was given (see README, "haproxy external-check").
`

func main() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	getenv := lookup(environ)
	if inv, ok := haproxy.DetectExternalCheck(args, getenv); ok {
		return runExternalCheck(ctx, inv, haproxy.ExternalCheckConfigPath, stdout)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], environ, stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], environ, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], environ, stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], environ, stdout, stderr)
	case "poke":
		return runPoke(ctx, args[1:], environ, stdout, stderr)
	case "maintenance":
		return runMaintenance(ctx, args[1:], environ, stdout, stderr)
	case "fence":
		return runFence(ctx, args[1:], environ, stdout, stderr)
	case "version", "--version":
		return runVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "iris-mirror-agent: unknown command %q (try serve, check, healthcheck, status, poke, maintenance, fence or version)\n", args[0])
		return ExitUsage
	}
}

// lookup turns an environment list into a getenv function.
func lookup(environ []string) func(string) string {
	return func(key string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
				return v
			}
		}
		return ""
	}
}
