package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/probe"
)

func runCheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := config.LoadCheck(args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent check: %v\n", err)
		return ExitUsage
	}
	if cfg.Direct {
		return checkDirect(ctx, cfg, stdout, stderr)
	}
	return askAndReport(ctx, stdout, cfg.URL, cfg.Timeout, cfg.TLS(), checkUserAgent, "OK", "FAIL", "")
}

// checkDirect probes IRIS with the same probes serve uses: pass iff
// mirror_status says SUCCESS and the SuperServer (if set) accepts.
func checkDirect(ctx context.Context, cfg *config.Check, stdout, stderr io.Writer) int {
	target, err := probe.NewHTTPTarget(cfg.MirrorStatusURL, cfg.TLS())
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent check: --mirror-status-url: %v\n", err)
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var ms, ss probe.Result
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ms = probe.MirrorStatus(ctx, target) }()
	if cfg.SuperServer != "" {
		wg.Add(1)
		go func() { defer wg.Done(); ss = probe.SuperServer(ctx, cfg.SuperServer) }()
	}
	wg.Wait()
	switch {
	case ms.Outcome != probe.Primary:
		fmt.Fprintf(stdout, "FAIL not primary: %s\n", ms.Reason)
		return ExitFail
	case cfg.SuperServer != "" && ss.Outcome != probe.Up:
		fmt.Fprintf(stdout, "FAIL not routable: %s\n", ss.Reason)
		return ExitFail
	}
	fmt.Fprintf(stdout, "OK primary: %s\n", ms.Reason)
	return ExitOK
}
