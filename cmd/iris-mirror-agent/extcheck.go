package main

import (
	"context"
	"fmt"
	"io"

	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/haproxy"
	"github.com/irismirror/iris-mirror-agent/httpapi"
)

// runExternalCheck is what haproxy's external-check runs: ask the agent on
// the checked server's address for /primary. It takes no flags (haproxy
// passes none and clears the environment) and reads its few settings from
// a file. stdout may be closed; writes then fail silently.
func runExternalCheck(ctx context.Context, inv haproxy.Invocation, confPath string, stdout io.Writer) int {
	cfg, err := haproxy.LoadExternalCheckConfig(confPath)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL external-check config: %v\n", err)
		return ExitFail
	}
	url, err := cfg.URL(inv)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %v\n", err)
		return ExitFail
	}
	return askAndReport(ctx, stdout, url, cfg.Timeout, endpoint.TLSOptions{CAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, InsecureSkipVerify: cfg.InsecureSkipVerify}, httpapi.ExternalCheckUserAgent, "OK", "FAIL", inv.ServerName)
}
