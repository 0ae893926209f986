package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// checkUserAgent is the User-Agent of check and healthcheck; the
// external-check mode sends httpapi.ExternalCheckUserAgent, so the agent
// counts its checks apart.
const checkUserAgent = "iris-mirror-agent-check"

// askAgent GETs an agent endpoint and returns the status code and the first
// line of the body. It uses no proxy and no connection pool: one request,
// one connection, bounded by timeout. tlsOpts apply to an https URL.
func askAgent(ctx context.Context, url string, timeout time.Duration, tlsOpts endpoint.TLSOptions, ua string) (int, string, error) {
	tlsConf, err := endpoint.ClientTLS(tlsOpts)
	if err != nil {
		return 0, "", err
	}
	if strings.HasPrefix(url, "http://") {
		return askPlain(ctx, url, timeout, ua) // no net/http client: see ask_plain.go
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", ua)
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       (&net.Dialer{KeepAlive: -1}).DialContext,
			DisableKeepAlives: true,
			TLSClientConfig:   tlsConf,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 512)).ReadString('\n')
	return resp.StatusCode, strings.TrimSpace(line), nil
}

// askAndReport asks url and prints one line: pass or fail, then what the
// agent said (or why it could not be asked). It returns ExitOK on a 200.
func askAndReport(ctx context.Context, stdout io.Writer, url string, timeout time.Duration, tlsOpts endpoint.TLSOptions, ua, pass, fail, subject string) int {
	code, line, err := askAgent(ctx, url, timeout, tlsOpts, ua)
	msg := describeAsk(displayURL(url), code, line, err)
	if subject != "" {
		msg = subject + " " + msg
	}
	if err == nil && code == http.StatusOK {
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

// describeAsk renders the outcome of askAgent as one line.
func describeAsk(url string, code int, line string, err error) string {
	if err != nil {
		if ue, ok := err.(interface{ Unwrap() error }); ok && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return fmt.Sprintf("%s: %v", url, err)
	}
	if line == "" {
		line = http.StatusText(code)
	}
	return fmt.Sprintf("%s: %d %s", url, code, line)
}
