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
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// TestAskAgent: check and healthcheck judge answers as the external check
// does (extcheck's strict reading), over the net package's dialer, which
// also resolves names.
func TestAskAgent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/primary":
			io.WriteString(w, "primary\n")
		case "/standby":
			w.WriteHeader(503)
			io.WriteString(w, "not standby: role primary: mirror_status 200 SUCCESS\nsecond line\n")
		case "/welcome":
			io.WriteString(w, "<html>welcome</html>")
		case "/ua":
			io.WriteString(w, r.UserAgent()+"\n")
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cases := []struct {
		url  string
		code int
		pass bool
		line string
	}{
		{srv.URL + "/primary", 200, true, "primary"},
		{"http://localhost:" + port + "/primary?x=1", 200, true, "primary"}, // a name, resolved
		{srv.URL + "/standby", 503, false, "not standby: role primary: mirror_status 200 SUCCESS"},
		{srv.URL + "/welcome", 200, false, "<html>welcome</html>"},
		{srv.URL + "/nope", 200, false, ""}, // 200, empty body
		{srv.URL + "/ua", 200, false, extcheck.CheckUserAgent},
	}
	for _, c := range cases {
		a, err := askAgent(context.Background(), c.url, 2*time.Second, endpoint.TLSOptions{}, extcheck.CheckUserAgent)
		if err != nil || a.Code != c.code || a.Pass != c.pass || a.Line != c.line {
			t.Errorf("%s: %+v %v, want %d pass=%v %q", c.url, a, err, c.code, c.pass, c.line)
		}
	}
	if _, err := askAgent(context.Background(), "http://u:p@"+srv.Listener.Addr().String()+"/primary", time.Second, endpoint.TLSOptions{}, "x"); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("credentials: %v", err)
	}
}

func TestAskAgentFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	if _, err := askAgent(context.Background(), "http://"+refused+"/primary", time.Second, endpoint.TLSOptions{}, "x"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("refused: %v", err)
	}

	// A server that sends 200 and the right body and never closes: the
	// timeout ends it, as a failure.
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
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nprimary\n")
		}
	}()
	const timeout = 300 * time.Millisecond
	start := time.Now()
	a, err := askAgent(context.Background(), "http://"+hang.Addr().String()+"/primary", timeout, endpoint.TLSOptions{}, "x")
	if a.Pass || err == nil || !strings.Contains(err.Error(), "timeout") || time.Since(start) < timeout || time.Since(start) > 10*timeout {
		t.Errorf("hang: %+v %v after %v", a, err, time.Since(start))
	}

	// A signal (the context) ends the ask before its timeout.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(timeout, cancel)
	start = time.Now()
	if _, err := askAgent(ctx, "http://"+hang.Addr().String()+"/primary", time.Minute, endpoint.TLSOptions{}, "x"); err == nil || time.Since(start) > 10*timeout {
		t.Errorf("cancelled: %v after %v", err, time.Since(start))
	}
}
