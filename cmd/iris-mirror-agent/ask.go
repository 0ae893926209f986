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
)

// askAgent GETs an agent endpoint and returns the status code and the first
// line of the body. It uses no proxy and no connection pool: one request,
// one connection, bounded by timeout.
func askAgent(ctx context.Context, url string, timeout time.Duration) (int, string, error) {
	if strings.HasPrefix(url, "http://") {
		return askPlain(ctx, url, timeout) // no net/http client: see ask_plain.go
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", "iris-mirror-agent-check")
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:             nil,
			DialContext:       (&net.Dialer{KeepAlive: -1}).DialContext,
			DisableKeepAlives: true,
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
