package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/irismirror/iris-mirror-agent/admin"
)

const pokeSynopsis = `iris-mirror-agent poke [settings]

Ask the local agent for a probe round now (rate-limited by the agent's
--poke-min-interval), through its admin socket. Call it from IRIS's
^ZMIRROR NotifyBecomePrimary so balancers see a promotion at once.`

func runPoke(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, rest, err := loadAdmin("iris-mirror-agent poke", pokeSynopsis, args, environ, stdout)
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
