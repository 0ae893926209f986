package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// runHealthcheck exits 0 or 1 only: Docker reserves exit code 2.
func runHealthcheck(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := loadHealthcheck(args, environ, stdout)
	if code, done := usageResult("healthcheck", err, stderr, ExitFail); done {
		return code
	}
	return askAndReport(ctx, stdout, cfg.URL, cfg.Timeout, cfg.TLS(), extcheck.CheckUserAgent, "healthy", "unhealthy")
}

// healthcheckSettings are the settings of `iris-mirror-agent healthcheck`.
type healthcheckSettings struct {
	Endpoint   string        `env:"HEALTHCHECK_ENDPOINT" envDefault:"live" flag:"endpoint" help:"live, health or primary: what 'healthy' means for the container"`
	URL        string        `env:"HEALTHCHECK_URL" flag:"url" help:"agent base URL (default: 127.0.0.1 on the port of MIRROR_AGENT_HTTP_LISTEN)"`
	Timeout    time.Duration `env:"HEALTHCHECK_TIMEOUT" envDefault:"2s" flag:"timeout" help:"give up after this long"`
	HTTPListen string        `env:"HTTP_LISTEN" envDefault:":9797"` // serve's listen address, to find the agent

	CAFile         string `env:"HEALTHCHECK_CA_FILE" flag:"ca-file" help:"PEM CA bundle for an https --url"`
	ClientCertFile string `env:"HEALTHCHECK_CLIENT_CERT_FILE" flag:"client-cert-file" help:"PEM client certificate, for an agent started with --tls-client-ca-file"`
	ClientKeyFile  string `env:"HEALTHCHECK_CLIENT_KEY_FILE" flag:"client-key-file" help:"PEM private key of --client-cert-file"`
	ServeTLSCert   string `env:"TLS_CERT_FILE"` // serve's certificate: the local agent speaks HTTPS and is pinned to it

	pinFile string
}

// TLS is the client TLS the healthcheck uses: the CA file if given, else,
// when it found the local agent itself and that agent serves HTTPS, the
// agent's own certificate pinned.
func (c *healthcheckSettings) TLS() endpoint.TLSOptions {
	return endpoint.TLSOptions{CAFile: c.CAFile, CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile, PinFile: c.pinFile}
}

// healthcheckSynopsis is the help paragraph of healthcheck.
const healthcheckSynopsis = `iris-mirror-agent healthcheck [settings]

For Docker HEALTHCHECK: exit 0 if the local agent answers 200 on the chosen
endpoint, else 1 (never 2, which Docker reserves). The default, live, keeps a
healthy backup container healthy.`

// loadHealthcheck reads healthcheck's settings and validates them.
func loadHealthcheck(args, environ []string, help io.Writer) (*healthcheckSettings, error) {
	cfg := &healthcheckSettings{}
	rest, err := config.Load(cfg, "iris-mirror-agent healthcheck", healthcheckSynopsis, args, environ, help)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected argument %q (healthcheck takes only settings)", rest[0])
	}
	switch cfg.Endpoint {
	case "live", "health", "primary":
	default:
		return nil, &config.Error{Flag: "endpoint", Env: config.Prefix + "HEALTHCHECK_ENDPOINT", Value: cfg.Endpoint, Err: errors.New("must be live, health or primary")}
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, &config.Error{Flag: "timeout", Env: config.Prefix + "HEALTHCHECK_TIMEOUT", Value: cfg.Timeout.String(), Err: errors.New("must be between 1ms and 1m")}
	}
	if cfg.URL == "" {
		_, port, err := net.SplitHostPort(cfg.HTTPListen)
		if err != nil || port == "" || port == "0" {
			return nil, fmt.Errorf("cannot find the agent: MIRROR_AGENT_HTTP_LISTEN %q has no fixed port; set --url", cfg.HTTPListen)
		}
		host, _, _ := net.SplitHostPort(cfg.HTTPListen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		scheme := "http"
		if cfg.ServeTLSCert != "" {
			scheme = "https"
			if cfg.CAFile == "" {
				cfg.pinFile = cfg.ServeTLSCert
			}
		}
		cfg.URL = scheme + "://" + net.JoinHostPort(host, port)
	}
	if err := config.CheckClientTLS(cfg.CAFile, config.Prefix+"HEALTHCHECK_CA_FILE", cfg.ClientCertFile, config.Prefix+"HEALTHCHECK_CLIENT_CERT_FILE", cfg.ClientKeyFile, config.Prefix+"HEALTHCHECK_CLIENT_KEY_FILE"); err != nil {
		return nil, err
	}
	if cfg.pinFile != "" {
		if err := config.CheckCertFile(cfg.pinFile); err != nil {
			return nil, &config.Error{Flag: "tls-cert-file", Env: config.Prefix + "TLS_CERT_FILE", Value: cfg.pinFile, FromEnv: true, Err: err}
		}
	}
	u, err := endpoint.ParseHTTPURL(cfg.URL)
	if err != nil {
		return nil, &config.Error{Flag: "url", Env: config.Prefix + "HEALTHCHECK_URL", Value: config.RedactedURL(cfg.URL), Err: err}
	}
	u.Path = "/" + cfg.Endpoint
	u.RawQuery = ""
	cfg.URL = (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: u.Path}).String()
	return cfg, nil
}
