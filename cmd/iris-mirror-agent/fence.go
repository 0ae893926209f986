package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/fence"
)

// runFence shows, opens or closes the fence in the kernel directly, not
// through the agent: it works when the agent is stopped (which is when an
// operator needs it most), and a running agent puts its own verdict back
// at its next probe round, as it does after any change by hand.
func runFence(_ context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, spec, verb, err := config.LoadFence(args, environ, stdout)
	if code, done := usageResult("fence", err, stderr, ExitUsage); done {
		return code
	}
	k, err := fence.OpenKernel(fence.Rule{Ports: spec.Ports, Allow: spec.Allow})
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent fence: %v\n", err)
		return ExitRuntime
	}
	defer k.Release()
	var st fence.KernelState
	switch verb {
	case "status":
		st, err = k.Inspect()
	case "open":
		_, err = k.Open()
		if err == nil {
			fmt.Fprintln(stdout, "opened: clients may connect (a running agent closes it again at its next round unless the member is primary)")
			st, err = k.Inspect()
		}
	case "close":
		_, err = k.Close()
		if err == nil && cfg.Cut {
			var n int
			n, err = k.Cut()
			fmt.Fprintf(stdout, "cut %d sessions\n", n)
		}
		if err == nil {
			fmt.Fprintln(stdout, "closed (a running agent opens it again at its next round if the member is primary)")
			st, err = k.Inspect()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent fence %s: %v\n", verb, err)
		return ExitRuntime
	}
	fmt.Fprintln(stdout, describe(st, len(spec.Ports) > 0))
	return ExitOK
}

// describe is the state in one line. compared: the kernel was compared
// with ports given to the command.
func describe(st fence.KernelState, compared bool) string {
	if !st.Closed {
		return "fence: open (no table inet " + fence.Table + " here): clients may connect"
	}
	ports := make([]string, len(st.Ports))
	for i, p := range st.Ports {
		ports[i] = strconv.Itoa(int(p))
	}
	spared := "loopback"
	if len(st.Allow) > 0 {
		spared += ", " + strings.Join(st.Allow, ", ")
	}
	line := fmt.Sprintf("fence: closed: new TCP connections to port(s) %s refused except from %s; %d refused by the rule as it stands",
		strings.Join(ports, ", "), spared, st.Rejected)
	if compared && !st.Intact {
		line += "; differs from --fence/--fence-allow: " + st.Problem
	}
	return line
}
