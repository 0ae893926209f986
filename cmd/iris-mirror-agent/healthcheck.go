package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

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
	return askAndReport(ctx, stdout, cfg.URL, cfg.Timeout, cfg.TLS(), checkUserAgent, "healthy", "unhealthy", "")
}
