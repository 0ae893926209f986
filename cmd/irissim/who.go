package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// runWho asks a SuperServer port (a member's, a gate's, or a balancer's
// in front of them) which simulated member answers: "ap1a primary".
func runWho(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("irissim who", flag.ContinueOnError)
	fs.SetOutput(stderr)
	withUsage(fs, stderr, `Usage: irissim who [flags] HOST:PORT

Send one line to a simulated SuperServer, or to a balancer or gate in front
of one, and print which member answered and its state ("ap1a primary").
Exit 1 when nothing answers.`)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "irissim who: want one HOST:PORT")
		return 2
	}
	member, state, err := simulator.Who(fs.Arg(0), *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "irissim who %s: %v\n", fs.Arg(0), err)
		return 1
	}
	fmt.Fprintln(stdout, member, state)
	return 0
}
