package main

import (
	"context"
	"io"

	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// runExternalCheck is what haproxy's external-check runs when its command
// is this binary: extcheck.Run, as iris-mirror-check does it, plus what
// only this binary links: HTTPS to the agent, and a server address that
// is a name. iris-mirror-check is the cheaper command for plain HTTP
// (docs/external-check.md).
func runExternalCheck(ctx context.Context, inv extcheck.Invocation, confPath string, stdout io.Writer) int {
	return extcheck.Run(inv, confPath, stdout, func(cfg extcheck.Config, url string) (extcheck.Answer, error) {
		tlsOpts := endpoint.TLSOptions{CAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, InsecureSkipVerify: cfg.InsecureSkipVerify}
		return askAgent(ctx, url, cfg.Timeout, tlsOpts, extcheck.UserAgent)
	})
}
