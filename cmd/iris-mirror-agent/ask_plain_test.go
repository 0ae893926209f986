package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// askNetHTTP is askAgent's net/http path, forced for an http:// URL, so
// the plain client can be compared with it.
func askNetHTTP(ctx context.Context, url string, timeout time.Duration) (int, string, error) {
	return askAgent(ctx, "HTTP"+strings.TrimPrefix(url, "http"), timeout, endpoint.TLSOptions{}, checkUserAgent)
}

func TestAskPlainMatchesNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/primary":
			io.WriteString(w, "primary\n")
		case "/standby":
			w.WriteHeader(503)
			io.WriteString(w, "not standby: role primary: mirror_status 200 SUCCESS\nsecond line\n")
		case "/empty":
			w.WriteHeader(204)
		case "/noeol":
			io.WriteString(w, "  no end of line  ")
		case "/big":
			io.WriteString(w, strings.Repeat("x", 2000)+"\n")
		case "/redirect":
			http.Redirect(w, r, "/primary", http.StatusFound)
		case "/query":
			io.WriteString(w, r.URL.RawQuery+" "+r.UserAgent()+"\n") // both clients send the User-Agent they are given
		}
	}))
	defer srv.Close()
	for _, path := range []string{"/primary", "/standby", "/empty", "/noeol", "/big", "/redirect", "/query?a=1&b=2", "/nope"} {
		url := srv.URL + path
		pc, pl, perr := askPlain(context.Background(), url, 2*time.Second, checkUserAgent)
		nc, nl, nerr := askNetHTTP(context.Background(), url, 2*time.Second)
		if perr != nil || nerr != nil || pc != nc || pl != nl {
			t.Errorf("%s: plain %d %q %v, net/http %d %q %v", path, pc, pl, perr, nc, nl, nerr)
		}
	}
}

func TestAskPlainFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	if _, _, err := askPlain(context.Background(), "http://"+refused+"/primary", time.Second, checkUserAgent); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("refused: %v", err)
	}

	// A server that accepts and never answers: the timeout bounds the ask.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, _, err = askPlain(context.Background(), "http://"+hang.Addr().String()+"/primary", 300*time.Millisecond, checkUserAgent)
	if err == nil || !strings.Contains(err.Error(), "timeout") || time.Since(start) > 3*time.Second {
		t.Errorf("hang: %v after %v", err, time.Since(start))
	}

	// Not HTTP at all.
	junk, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	go func() {
		c, err := junk.Accept()
		if err == nil {
			io.WriteString(c, "SSH-2.0-OpenSSH\r\n")
			c.Close()
		}
	}()
	if _, _, err := askPlain(context.Background(), "http://"+junk.Addr().String()+"/", time.Second, checkUserAgent); err == nil || !strings.Contains(err.Error(), "malformed HTTP status line") {
		t.Errorf("junk: %v", err)
	}
	if _, _, err := askPlain(context.Background(), "https://127.0.0.1/", time.Second, checkUserAgent); err == nil {
		t.Error("https must not go through the plain client")
	}
}

func TestParseStatusLine(t *testing.T) {
	for s, want := range map[string]int{"HTTP/1.0 200 OK\r\n": 200, "HTTP/1.1 503 Service Unavailable\r\n": 503, "HTTP/1.0 204\r\n": 204} {
		if got, err := parseStatusLine(s); err != nil || got != want {
			t.Errorf("%q: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "HTTP/1.0\r\n", "HTTP/1.0 abc OK", "FTP/1.0 200 OK", "HTTP/1.0 42 X"} {
		if _, err := parseStatusLine(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
