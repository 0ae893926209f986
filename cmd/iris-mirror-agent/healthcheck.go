package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"

	"github.com/irismirror/iris-mirror-agent/config"
)

// runHealthcheck exits 0 or 1 only: Docker reserves exit code 2.
func runHealthcheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := config.LoadHealthcheck(args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent healthcheck: %v\n", err)
		return ExitFail
	}
	code, line, err := askAgent(ctx, cfg.URL, cfg.Timeout, cfg.TLS())
	msg := describeAsk(probeDisplay(cfg.URL), code, line, err)
	if err == nil && code == http.StatusOK {
		fmt.Fprintf(stdout, "healthy %s\n", msg)
		return ExitOK
	}
	fmt.Fprintf(stdout, "unhealthy %s\n", msg)
	return ExitFail
}
