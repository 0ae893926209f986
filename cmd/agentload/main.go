// Command agentload plays balancers checking an agent, for the benchmark
// suite: one TCP connection per check (haproxy agent-check, or an HTTP/1.0
// GET as haproxy's httpchk sends), bounded in count and duration, loopback
// targets only. It prints one JSON result.
//
//	agentload -addr 127.0.0.1:9798 -send 'primary\n' -workers 8 -duration 5s
//	agentload -addr 127.0.0.1:9797 -kind http -send /primary -workers 100 -every 100ms -duration 10s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/agentload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agentload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o agentload.Options
	kind := fs.String("kind", "agent", "agent (send a line, read one) or http (GET path HTTP/1.0, read the status)")
	send := fs.String("send", `primary\n`, `agent: the line to send, Go escapes allowed ('' sends nothing); http: the path`)
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:9798", "target host:port (loopback only)")
	fs.StringVar(&o.Expect, "expect", "", "reply line (agent) or status code (http) counted as success; empty accepts any")
	fs.IntVar(&o.Workers, "workers", 1, "concurrent checkers (simulated balancers or connections)")
	fs.DurationVar(&o.Every, "every", 0, "each worker checks once per this period (a balancer's interval)")
	fs.Float64Var(&o.Rate, "rate", 0, "total checks per second, spread over the workers (0: as fast as possible)")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "stop after this long (at most "+agentload.MaxDuration.String()+")")
	fs.IntVar(&o.MaxChecks, "max", 0, "stop after this many checks (0: "+strconv.Itoa(agentload.MaxChecks)+")")
	fs.DurationVar(&o.Timeout, "timeout", 2*time.Second, "one check's deadline")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	o.Kind = agentload.Kind(*kind)
	o.Send = *send
	if o.Kind == agentload.Agent {
		s, err := strconv.Unquote(`"` + *send + `"`)
		if err != nil {
			fmt.Fprintf(stderr, "agentload: invalid -send %q: %v\n", *send, err)
			return 2
		}
		o.Send = s
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "agentload: invalid %v\n", err)
		return 2
	}
	res, err := agentload.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "agentload: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	return 0
}
