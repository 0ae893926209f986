package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// Check holds the settings of `iris-mirror-agent check`.
type Check struct {
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
func (c *Check) TLS() endpoint.TLSOptions {
	return endpoint.TLSOptions{CAFile: c.CAFile, InsecureSkipVerify: c.InsecureSkipVerify, CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile}
}

// CheckSynopsis is the help paragraph of check.
const CheckSynopsis = `iris-mirror-agent check [settings]

Exit 0 if the member is a routable primary, 1 if not, with one line saying why.
Agent mode (default) asks a running agent; direct mode probes IRIS itself.`

// LoadCheck reads check's settings and validates them.
func LoadCheck(args, environ []string, help io.Writer) (*Check, error) {
	cfg := &Check{}
	rest, set, err := LoadFlags(cfg, "iris-mirror-agent check", CheckSynopsis, args, environ, help)
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
		return &Error{Flag: flag, Env: Prefix + envName(flag), Value: fmt.Sprint(value), Err: errors.New(why)}
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, &Error{Flag: "timeout", Env: Prefix + "CHECK_TIMEOUT", Value: cfg.Timeout.String(), Err: errors.New("must be between 1ms and 1m")}
	}
	if err := checkClientTLS(cfg.CAFile, Prefix+"CA_FILE", cfg.ClientCertFile, Prefix+"CHECK_CLIENT_CERT_FILE", cfg.ClientKeyFile, Prefix+"CHECK_CLIENT_KEY_FILE"); err != nil {
		return nil, err
	}
	if cfg.Direct {
		if _, err := endpoint.ParseHTTPURL(cfg.MirrorStatusURL); err != nil {
			return nil, bad("mirror-status-url", redactedURL(cfg.MirrorStatusURL), err.Error())
		}
		if cfg.SuperServer != "" {
			if err := CheckDialAddr(cfg.SuperServer); err != nil {
				return nil, bad("superserver", cfg.SuperServer, err.Error())
			}
		}
		return cfg, nil
	}
	if _, err := endpoint.ParseHTTPURL(cfg.URL); err != nil {
		return nil, &Error{Flag: "url", Env: Prefix + "CHECK_URL", Value: redactedURL(cfg.URL), Err: err}
	}
	return cfg, nil
}

// Healthcheck holds the settings of `iris-mirror-agent healthcheck`.
type Healthcheck struct {
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
func (c *Healthcheck) TLS() endpoint.TLSOptions {
	return endpoint.TLSOptions{CAFile: c.CAFile, CertFile: c.ClientCertFile, KeyFile: c.ClientKeyFile, PinFile: c.pinFile}
}

// HealthcheckSynopsis is the help paragraph of healthcheck.
const HealthcheckSynopsis = `iris-mirror-agent healthcheck [settings]

For Docker HEALTHCHECK: exit 0 if the local agent answers 200 on the chosen
endpoint, else 1 (never 2, which Docker reserves). The default, live, keeps a
healthy backup container healthy.`

// LoadHealthcheck reads healthcheck's settings and validates them.
func LoadHealthcheck(args, environ []string, help io.Writer) (*Healthcheck, error) {
	cfg := &Healthcheck{}
	rest, err := Load(cfg, "iris-mirror-agent healthcheck", HealthcheckSynopsis, args, environ, help)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected argument %q (healthcheck takes only settings)", rest[0])
	}
	switch cfg.Endpoint {
	case "live", "health", "primary":
	default:
		return nil, &Error{Flag: "endpoint", Env: Prefix + "HEALTHCHECK_ENDPOINT", Value: cfg.Endpoint, Err: errors.New("must be live, health or primary")}
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, &Error{Flag: "timeout", Env: Prefix + "HEALTHCHECK_TIMEOUT", Value: cfg.Timeout.String(), Err: errors.New("must be between 1ms and 1m")}
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
	if err := checkClientTLS(cfg.CAFile, Prefix+"HEALTHCHECK_CA_FILE", cfg.ClientCertFile, Prefix+"HEALTHCHECK_CLIENT_CERT_FILE", cfg.ClientKeyFile, Prefix+"HEALTHCHECK_CLIENT_KEY_FILE"); err != nil {
		return nil, err
	}
	if cfg.pinFile != "" {
		if err := checkCertFile(cfg.pinFile); err != nil {
			return nil, &Error{Flag: "tls-cert-file", Env: Prefix + "TLS_CERT_FILE", Value: cfg.pinFile, FromEnv: true, Err: err}
		}
	}
	u, err := endpoint.ParseHTTPURL(cfg.URL)
	if err != nil {
		return nil, &Error{Flag: "url", Env: Prefix + "HEALTHCHECK_URL", Value: redactedURL(cfg.URL), Err: err}
	}
	u.Path = "/" + cfg.Endpoint
	u.RawQuery = ""
	cfg.URL = (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: u.Path}).String()
	return cfg, nil
}
