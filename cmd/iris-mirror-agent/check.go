package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/agent"
	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/extcheck"
	"github.com/irismirror/iris-mirror-agent/monitor"
)

func runCheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := loadCheck(args, environ, stdout)
	if code, done := usageResult("check", err, stderr, ExitUsage); done {
		return code
	}
	if cfg.Direct {
		return checkDirect(ctx, cfg, stdout, stderr)
	}
	return askAndReport(ctx, stdout, cfg.URL, cfg.Timeout, cfg.TLS(), extcheck.CheckUserAgent, "OK", "FAIL")
}

// checkDirect probes IRIS once with the probes serve uses and answers the
// primary question as serve would: the same state machine decides.
func checkDirect(ctx context.Context, cfg *checkSettings, stdout, stderr io.Writer) int {
	probers, err := agent.Probers(agent.Targets{MirrorStatusURL: cfg.MirrorStatusURL, TLS: cfg.TLS(), SuperServer: cfg.SuperServer})
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent check: %v\n", err)
		return ExitUsage
	}
	snap := monitor.Once(ctx, probers, cfg.Timeout)
	if v := snap.Verdict(checker.AskPrimary, snap.At); !v.OK {
		fmt.Fprintf(stdout, "FAIL %s\n", v.Reason)
		return ExitFail
	}
	fmt.Fprintf(stdout, "OK primary: %s\n", snap.Reason)
	return ExitOK
}

// checkSettings are the settings of `iris-mirror-agent check`.
type checkSettings struct {
	URL                string        `env:"CHECK_URL" envDefault:"http://127.0.0.1:9797/primary" flag:"url" help:"agent endpoint to ask (agent mode)"`
	Timeout            time.Duration `env:"CHECK_TIMEOUT" envDefault:"1s" flag:"timeout" help:"give up after this long"`
	Direct             bool          `env:"CHECK_DIRECT" envDefault:"false" flag:"direct" help:"probe IRIS itself instead of asking an agent (implied by --mirror-status-url or --superserver)"`
	MirrorStatusURL    string        `env:"MIRROR_STATUS_URL" envDefault:"http://127.0.0.1:52773/csp/mirror_status.cxw" flag:"mirror-status-url" help:"direct mode: the member's mirror_status.cxw URL"`
	SuperServer        string        `env:"SUPERSERVER" envDefault:"127.0.0.1:1972" flag:"superserver" help:"direct mode: SuperServer host:port (empty skips it)"`
	CAFile             string        `env:"CA_FILE" flag:"ca-file" help:"PEM CA bundle for an https URL (the agent's, or the mirror-status one in direct mode)"`
	InsecureSkipVerify bool          `env:"INSECURE_SKIP_VERIFY" envDefault:"false" flag:"insecure-skip-verify" help:"do not verify the certificate of an https URL"`
	ClientCertFile     string        `env:"CHECK_CLIENT_CERT_FILE" flag:"client-cert-file" help:"PEM client certificate, for an agent started with --tls-client-ca-file"`
	ClientKeyFile      string        `env:"CHECK_CLIENT_KEY_FILE" flag:"client-key-file" help:"PEM private key of --client-cert-file"`
}

// TLS is the client TLS the check uses for an https URL.
func (c *checkSettings) TLS() endpoint.TLSOptions {
	return endpoint.TLSOptions{CAFile: c.CAFile, InsecureSkipVerify: c.InsecureSkipVerify, CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile}
}

// checkSynopsis is the help paragraph of check.
const checkSynopsis = `iris-mirror-agent check [settings]

Exit 0 if the member is a routable primary, 1 if not, with one line saying why.
Agent mode (default) asks a running agent; direct mode probes IRIS itself.`

// loadCheck reads check's settings and validates them.
func loadCheck(args, environ []string, help io.Writer) (*checkSettings, error) {
	cfg := &checkSettings{}
	rest, set, err := config.LoadFlags(cfg, "iris-mirror-agent check", checkSynopsis, args, environ, help)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected argument %q (check takes only settings)", rest[0])
	}
	if set["mirror-status-url"] || set["superserver"] {
		cfg.Direct = true
	}
	bad := func(flag string, value any, why string) error {
		return &config.Error{Flag: flag, Env: config.Prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_")), Value: fmt.Sprint(value), Err: errors.New(why)}
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, &config.Error{Flag: "timeout", Env: config.Prefix + "CHECK_TIMEOUT", Value: cfg.Timeout.String(), Err: errors.New("must be between 1ms and 1m")}
	}
	if err := config.CheckClientTLS(cfg.CAFile, config.Prefix+"CA_FILE", cfg.ClientCertFile, config.Prefix+"CHECK_CLIENT_CERT_FILE", cfg.ClientKeyFile, config.Prefix+"CHECK_CLIENT_KEY_FILE"); err != nil {
		return nil, err
	}
	if cfg.Direct {
		if _, err := endpoint.ParseHTTPURL(cfg.MirrorStatusURL); err != nil {
			return nil, bad("mirror-status-url", config.RedactedURL(cfg.MirrorStatusURL), err.Error())
		}
		if cfg.SuperServer != "" {
			if err := config.CheckDialAddr(cfg.SuperServer); err != nil {
				return nil, bad("superserver", cfg.SuperServer, err.Error())
			}
		}
		return cfg, nil
	}
	if _, err := endpoint.ParseHTTPURL(cfg.URL); err != nil {
		return nil, &config.Error{Flag: "url", Env: config.Prefix + "CHECK_URL", Value: config.RedactedURL(cfg.URL), Err: err}
	}
	return cfg, nil
}
