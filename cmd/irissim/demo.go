package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/demo"
)

// runDemo is the one-command trial: see package demo.
func runDemo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("irissim demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	withUsage(fs, stderr, `Usage: irissim demo [flags]

Simulated mirror sets AP1 (ap1a, ap1b) and AP2 (ap2a, ap2b), an agent beside
each member, and haproxy in front when it is installed, all on one loopback
address. A live table shows what each agent says and where haproxy sends
clients; keys (or lines on stdin) trigger failovers. Ctrl-C stops it all.`)
	var o demo.Options
	fs.StringVar(&o.IP, "ip", "127.0.0.1", "loopback address for every port")
	fs.IntVar(&o.Ports, "ports", 19700, "first port of the block: haproxy AP1 on +1, AP2 on +2, stats on +5; member k on +10k..+10k+9")
	fs.DurationVar(&o.Interval, "interval", 250*time.Millisecond, "agents' probe interval")
	fs.DurationVar(&o.Timeout, "timeout", 500*time.Millisecond, "agents' probe deadline")
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: until Ctrl-C or q)")
	fs.StringVar(&o.HAProxy, "haproxy", "", `haproxy binary (default: found in PATH or /usr/sbin; "none" runs without)`)
	fs.DurationVar(&o.Refresh, "refresh", 200*time.Millisecond, "screen refresh interval")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "irissim demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := demo.Run(ctx, o, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "irissim demo: %v\n", err)
		return 1
	}
	return 0
}
