package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/irismirror/iris-mirror-agent/admin"
	"github.com/irismirror/iris-mirror-agent/config"
)

const pokeSynopsis = `iris-mirror-agent poke [settings]

Ask the local agent for a probe round now (rate-limited by the agent's
--poke-min-interval), through its admin socket. Call it from IRIS's
^ZMIRROR NotifyBecomePrimary so balancers see a promotion at once.`

func runPoke(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, rest, err := config.LoadAdmin("iris-mirror-agent poke", pokeSynopsis, args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q (poke takes only settings)", rest[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent poke: %v\n", err)
		return ExitUsage
	}
	return adminCommand(ctx, cfg, admin.Poke, stdout)
}

// adminCommand sends one command to the agent's admin socket and prints
// the answer; it exits 0 when the agent said ok.
func adminCommand(ctx context.Context, cfg *config.Admin, cmd admin.Command, stdout io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	reply, err := admin.Send(ctx, cfg.AdminSocket, cmd)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %v\n", err)
		return ExitFail
	}
	fmt.Fprintln(stdout, reply)
	if !strings.HasPrefix(reply, "ok") {
		return ExitFail
	}
	return ExitOK
}
