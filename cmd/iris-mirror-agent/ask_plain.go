package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// askPlain is askAgent for an http:// URL without net/http's client: one
// HTTP/1.0 GET on one connection, the status line, the headers skipped,
// the first body line. check, healthcheck and external-check are each a
// fresh process per question, and net/http's transport (its connection
// goroutines wake more threads) is a measurable part of that process's CPU
// (BENCHMARKS.md, "haproxy external-check"). HTTP/1.0 keeps the answer
// plain: no chunked body, the server closes after it.
func askPlain(ctx context.Context, rawURL string, timeout time.Duration, ua string) (int, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, "", err
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil {
		return 0, "", fmt.Errorf("askPlain: want http://host[:port]/path, got %q", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := (&net.Dialer{KeepAlive: -1}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	req := "GET " + u.RequestURI() + " HTTP/1.0\r\nHost: " + u.Host + "\r\nUser-Agent: " + ua + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return 0, "", err
	}
	br := bufio.NewReaderSize(io.LimitReader(c, 64<<10), 4096)
	status, err := br.ReadString('\n')
	if err != nil {
		return 0, "", fmt.Errorf("read status: %w", err)
	}
	code, err := parseStatusLine(status)
	if err != nil {
		return 0, "", err
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return 0, "", fmt.Errorf("read headers: %w", err)
		}
		if h == "\r\n" || h == "\n" {
			break
		}
	}
	line, _ := bufio.NewReader(io.LimitReader(br, 512)).ReadString('\n')
	return code, strings.TrimSpace(line), nil
}

// parseStatusLine reads "HTTP/1.x 200 OK".
func parseStatusLine(s string) (int, error) {
	proto, rest, ok := strings.Cut(strings.TrimRight(s, "\r\n"), " ")
	codeStr, _, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if !ok || !strings.HasPrefix(proto, "HTTP/") || err != nil || code < 100 || code > 999 {
		return 0, errors.New("malformed HTTP status line " + strconv.Quote(strings.TrimSpace(s)))
	}
	return code, nil
}
