package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// askAgent GETs an agent endpoint (http or https) and judges the answer
// with extcheck's strict reading: a pass is the agent's own positive
// answer, nothing else that says 200. One connection, HTTP/1.0, no proxy,
// no pool, everything within timeout. check, healthcheck and
// external-check (for HTTPS or a server given by name) ask this way; the
// request and the reading are extcheck's, shared with iris-mirror-check.
func askAgent(ctx context.Context, rawURL string, timeout time.Duration, tlsOpts endpoint.TLSOptions, userAgent string) (extcheck.Answer, error) {
	u, err := endpoint.ParseHTTPURL(rawURL)
	if err != nil {
		return extcheck.Answer{}, err
	}
	req := extcheck.Request{Host: u.Host, Path: u.RequestURI(), UserAgent: userAgent}
	fail := extcheck.Answer{Check: extcheck.CheckOf(req.Path)}
	if u.User != nil {
		return fail, errors.New("credentials in the URL are not supported: the agent takes none")
	}
	var tlsConf *tls.Config
	if u.Scheme == "https" {
		if tlsConf, err = endpoint.ClientTLS(tlsOpts); err != nil {
			return fail, err
		}
		if tlsConf.ServerName == "" {
			tlsConf.ServerName = u.Hostname()
		}
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := (&net.Dialer{KeepAlive: -1}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail, err
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	// A signal (ctx cancelled) ends a read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	var rw io.ReadWriter = c
	if tlsConf != nil {
		tc := tls.Client(c, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail, fmt.Errorf("tls handshake: %w", err)
		}
		rw = tc
	}
	return extcheck.Exchange(rw, req)
}

// askAndReport asks url and prints one line: pass or fail, then what the
// agent said (or why it could not be asked). It returns ExitOK only on the
// agent's positive answer.
func askAndReport(ctx context.Context, stdout io.Writer, url string, timeout time.Duration, tlsOpts endpoint.TLSOptions, ua, pass, fail string) int {
	a, err := askAgent(ctx, url, timeout, tlsOpts, ua)
	msg := extcheck.Describe(displayURL(url), a, err)
	if err == nil && a.Pass {
		fmt.Fprintf(stdout, "%s %s\n", pass, msg)
		return ExitOK
	}
	fmt.Fprintf(stdout, "%s %s\n", fail, msg)
	return ExitFail
}

// displayURL drops credentials and query from a URL shown to people.
func displayURL(raw string) string {
	if u, err := endpoint.ParseHTTPURL(raw); err == nil {
		return endpoint.Redact(u)
	}
	return raw
}
