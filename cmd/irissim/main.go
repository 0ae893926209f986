// Command irissim runs a simulated IRIS mirror member (no licence needed)
// and changes its state. See package simulator for what it simulates.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage: irissim <command> [flags]

Commands:
  serve   run one simulated mirror member
  set     change a running member's state: irissim set --control ADDR STATE
  get     print a running member's state and counters
  who     ask a SuperServer port (or a balancer in front) which member answers
  demo    the one-command trial: AP1 and AP2 simulated, an agent per member,
          haproxy in front, a live table; trigger failovers with keys
  qlist   act as "iris qlist INSTANCE" for the member at IRISSIM_CONTROL

Run "irissim <command> --help" for a command's flags (docs/simulator.md).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "set":
		return runSet(ctx, args[1:], stdout, stderr)
	case "get":
		return runGet(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], os.Stdin, stdout, stderr)
	case "who":
		return runWho(ctx, args[1:], stdout, stderr)
	case "qlist":
		return runQList(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "irissim: unknown command %q\n%s", args[0], usage)
		return 2
	}
}
