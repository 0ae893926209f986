package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/latency"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("irissim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	withUsage(fs, stderr, `Usage: irissim serve [flags]

Run one simulated IRIS mirror member: mirror_status.cxw and an application
on the web port, a SuperServer that answers each line with "<name> <state>",
and a loopback control endpoint to change its state (irissim set).`)
	name := fs.String("name", "iris", "member name (answered by the application path and the SuperServer)")
	ip := fs.String("ip", "127.0.0.1", "loopback address; sets the default web, superserver and control addresses")
	web := fs.String("web", "", "web server address serving /csp/mirror_status.cxw (default IP:52773)")
	ss := fs.String("superserver", "", "SuperServer address (default IP:1972)")
	control := fs.String("control", "", "control endpoint address, loopback only (default IP:52780)")
	state := fs.String("state", "primary", "initial state: primary, backup, async, hang or down")
	latencyProfile := fs.String("latency-profile", "none", "how long mirror_status.cxw takes to answer: none, jitter ("+
		"94.9:0-20ms,5:100-400ms,0.1:1-3s), or PCT:MIN-MAX,... with percentages summing to 100")
	latencySeed := fs.Uint64("latency-seed", 0, "seed of the latency draws (0: a new one, printed)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	orDefault := func(v *string, port string) {
		if *v == "" {
			*v = net.JoinHostPort(*ip, port)
		}
	}
	orDefault(web, "52773")
	orDefault(ss, "1972")
	orDefault(control, "52780")
	st, err := simulator.ParseState(*state)
	if err != nil {
		fmt.Fprintf(stderr, "irissim serve: invalid --state: %v\n", err)
		return 2
	}
	prof, err := latency.Parse(*latencyProfile)
	if err != nil {
		fmt.Fprintf(stderr, "irissim serve: invalid --latency-profile %q: %v\n", *latencyProfile, err)
		return 2
	}
	if err := requireLoopback(*control); err != nil {
		fmt.Fprintf(stderr, "irissim serve: invalid --control %q: %v\n", *control, err)
		return 2
	}
	m := simulator.NewMember(*name, *web, *ss, st)
	lat := ""
	if len(prof.Parts) > 0 && prof.String() != "100:0s" {
		seed := *latencySeed
		if seed == 0 {
			seed = rand.Uint64() >> 1
		}
		m.SetLatency(prof, seed)
		lat = fmt.Sprintf(" latency %s seed %d", prof, seed)
	}
	if err := m.Start(); err != nil {
		fmt.Fprintf(stderr, "irissim serve: %v\n", err)
		return 1
	}
	defer m.Close()
	ln, err := net.Listen("tcp", *control)
	if err != nil {
		fmt.Fprintf(stderr, "irissim serve: control: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: simulator.ControlHandler(m), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends at Close
	defer srv.Close()
	fmt.Fprintf(stdout, "irissim: member %s state %s web %s superserver %s control %s%s\n", *name, st, *web, *ss, ln.Addr(), lat)
	<-ctx.Done()
	return 0
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("the control endpoint changes state: it must listen on a loopback address")
	}
	return nil
}
