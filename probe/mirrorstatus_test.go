package probe

import (
	"bufio"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// server starts a loopback HTTP server with handler h and returns its URL.
func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/csp/mirror_status.cxw"
}

func reply(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// rawServer accepts TCP connections and hands each to fn.
func rawServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fn(c)
		}
	}()
	return "http://" + ln.Addr().String() + "/csp/mirror_status.cxw"
}

func TestMirrorStatusTable(t *testing.T) {
	hangs := make(chan struct{})
	t.Cleanup(func() { close(hangs) })
	cases := []struct {
		name    string
		url     func(t *testing.T) string
		want    Outcome
		reason  string
		maxTime time.Duration
	}{
		{"200 SUCCESS", func(t *testing.T) string { return server(t, reply(200, "SUCCESS")) }, Primary, "200 SUCCESS", time.Second},
		{"200 SUCCESS with newline", func(t *testing.T) string { return server(t, reply(200, "SUCCESS\r\n")) }, Primary, "200 SUCCESS", time.Second},
		{"200 FAILED", func(t *testing.T) string { return server(t, reply(200, "FAILED")) }, Error, "unexpected body 'FAILED'", time.Second},
		{"200 empty", func(t *testing.T) string { return server(t, reply(200, "")) }, Error, "unexpected body", time.Second},
		{"503 FAILED", func(t *testing.T) string { return server(t, reply(503, "FAILED")) }, NotPrimary, "503 FAILED", time.Second},
		{"404", func(t *testing.T) string { return server(t, reply(404, "nope")) }, Error, "unexpected status 404", time.Second},
		{"500", func(t *testing.T) string { return server(t, reply(500, "boom")) }, Error, "unexpected status 500", time.Second},
		{"302 not followed", func(t *testing.T) string {
			return server(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			})
		}, Error, "unexpected status 302", time.Second},
		{"refused", func(t *testing.T) string { return "http://" + refusedAddr(t) + "/csp/mirror_status.cxw" }, Error, "connection refused", time.Second},
		{"reset", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {
				buf := make([]byte, 1024)
				_, _ = c.Read(buf)
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			})
		}, Error, "mirror_status", time.Second},
		{"hang past deadline", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) { <-hangs; c.Close() })
		}, Error, "timeout", 2 * time.Second},
		{"hang mid-headers", func(t *testing.T) string {
			return rawServer(t, func(c net.Conn) {
				// Answer the request, as a server does: bytes written
				// before it arrives are an unsolicited response to the
				// transport, not a hang.
				_, _ = http.ReadRequest(bufio.NewReader(c))
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-"))
				<-hangs
				c.Close()
			})
		}, Error, "timeout", 2 * time.Second},
		{"slow body", func(t *testing.T) string {
			return server(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "7")
				w.WriteHeader(200)
				for _, b := range []byte("SUCCESS") {
					_, _ = w.Write([]byte{b})
					w.(http.Flusher).Flush()
					select {
					case <-time.After(time.Second):
					case <-r.Context().Done():
						return
					}
				}
			})
		}, Error, "timeout", 2 * time.Second},
		{"huge body", func(t *testing.T) string {
			return server(t, reply(200, "SUCCESS"+strings.Repeat(" ", 10<<20)))
		}, Error, "body over 4096 bytes", 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target, err := NewHTTPTarget(tc.url(t), endpoint.TLSOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			res := MirrorStatus(ctx, target)
			elapsed := time.Since(start)
			if res.Outcome != tc.want {
				t.Fatalf("outcome %v (%s), want %v", res.Outcome, res.Reason, tc.want)
			}
			if !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", res.Reason, tc.reason)
			}
			if res.Probe != MirrorStatusName || res.Latency <= 0 {
				t.Errorf("result not labelled: %+v", res)
			}
			if elapsed > tc.maxTime {
				t.Errorf("took %v, want at most %v: the probe must not outlive its deadline", elapsed, tc.maxTime)
			}
		})
	}
}

func TestMirrorStatusDoesNotRetry503(t *testing.T) {
	var hits atomic.Int32
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(503)
		_, _ = w.Write([]byte("FAILED"))
	})
	target, err := NewHTTPTarget(url, endpoint.TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := MirrorStatus(context.Background(), target)
	if res.Outcome != NotPrimary {
		t.Fatalf("got %v %s", res.Outcome, res.Reason)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("503 was requested %d times, want exactly 1 (a 503 is an answer, not a fault)", n)
	}
}

func TestMirrorStatusRetriesWithinDeadline(t *testing.T) {
	// The first connection is reset, the second answers: one retry fixes it.
	var n atomic.Int32
	url := rawServer(t, func(c net.Conn) {
		buf := make([]byte, 2048)
		_, _ = c.Read(buf)
		if n.Add(1) == 1 {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		}
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nSUCCESS"))
		c.Close()
	})
	target, _ := NewHTTPTarget(url, endpoint.TLSOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res := MirrorStatus(ctx, target)
	if res.Outcome != Primary {
		t.Fatalf("got %v %s, want primary after one retry", res.Outcome, res.Reason)
	}

	// Refused forever: retries stop at the deadline, not after it.
	target, _ = NewHTTPTarget("http://"+refusedAddr(t)+"/x", endpoint.TLSOptions{})
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	res = MirrorStatus(ctx, target)
	if res.Outcome != Error {
		t.Fatalf("got %v", res.Outcome)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("refused probe took %v with a 30ms deadline", d)
	}
}

func TestMirrorStatusHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(reply(200, "SUCCESS"))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	url := srv.URL + "/csp/mirror_status.cxw"

	// Untrusted certificate: an error, not a role.
	target, err := NewHTTPTarget(url, endpoint.TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := MirrorStatus(context.Background(), target)
	if res.Outcome != Error || !strings.Contains(res.Reason, "tls") {
		t.Fatalf("untrusted cert: got %v %q", res.Outcome, res.Reason)
	}

	// Trusted through a CA file.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	target, err = NewHTTPTarget(url, endpoint.TLSOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	if res := MirrorStatus(context.Background(), target); res.Outcome != Primary {
		t.Fatalf("with CA file: got %v %q", res.Outcome, res.Reason)
	}

	// Skip-verify accepts it too.
	target, _ = NewHTTPTarget(url, endpoint.TLSOptions{InsecureSkipVerify: true})
	if res := MirrorStatus(context.Background(), target); res.Outcome != Primary {
		t.Fatalf("skip-verify: got %v %q", res.Outcome, res.Reason)
	}

	// A plain-HTTP server behind an https URL: TLS handshake failure.
	plain := server(t, reply(200, "SUCCESS"))
	target, _ = NewHTTPTarget(strings.Replace(plain, "http://", "https://", 1), endpoint.TLSOptions{InsecureSkipVerify: true})
	if res := MirrorStatus(context.Background(), target); res.Outcome != Error || !strings.Contains(res.Reason, "tls") {
		t.Fatalf("https to plain http: got %v %q", res.Outcome, res.Reason)
	}
}

func TestNewHTTPTargetRejects(t *testing.T) {
	for _, raw := range []string{"", "ftp://x/", "http://", "http://h:99999/", "://x", "127.0.0.1:52773"} {
		if _, err := NewHTTPTarget(raw, endpoint.TLSOptions{}); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
	if _, err := NewHTTPTarget("http://x/", endpoint.TLSOptions{CAFile: "/nonexistent/ca.pem"}); err == nil {
		t.Error("missing CA file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a cert"), 0o600)
	if _, err := NewHTTPTarget("https://x/", endpoint.TLSOptions{CAFile: bad}); err == nil {
		t.Error("CA file without certificates accepted")
	}
}

func TestRedactDropsCredentials(t *testing.T) {
	target, err := NewHTTPTarget("http://admin:s3cret@127.0.0.1:52773/csp/mirror_status.cxw?token=abc", endpoint.TLSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(target.Display, "s3cret") || strings.Contains(target.Display, "admin") || strings.Contains(target.Display, "token") {
		t.Fatalf("display URL leaks credentials: %s", target.Display)
	}
	if target.Display != "http://127.0.0.1:52773/csp/mirror_status.cxw" {
		t.Fatalf("display %q", target.Display)
	}
}

func TestClassifyMirrorStatus(t *testing.T) {
	cases := []struct {
		code int
		body string
		want Outcome
	}{
		{200, "SUCCESS", Primary},
		{200, "  SUCCESS\n", Primary},
		{200, "success", Error},
		{200, "SUCCESSFUL", Error},
		{503, "FAILED", NotPrimary},
		{503, "FAILED\r\n", NotPrimary},
		// A 503 is a standby only with the documented body: an error page
		// from a proxy in front of a stopped gateway is not a role.
		{503, "", Error},
		{503, "\x00\xff#\n", Error},
		{503, "<html><body>Service Temporarily Unavailable</body></html>", Error},
		{503, "failed", Error},
		{503, strings.Repeat("FAILED", 1000), Error},
		// ASCII white space only: a no-break space makes it another body.
		{200, "SUCCESS\u00a0", Error},
		{200, "\u2003SUCCESS", Error},
		{503, "FAILED\u00a0", Error},
		{200, "\tSUCCESS\v\f", Primary},
		{201, "SUCCESS", Error},
		{0, "", Error},
	}
	for _, c := range cases {
		got, reason := ClassifyMirrorStatus(c.code, []byte(c.body))
		if got != c.want {
			t.Errorf("%d %q: got %v, want %v", c.code, c.body, got, c.want)
		}
		for _, r := range reason {
			if r < 0x20 || r > 0x7e || r == '#' {
				t.Errorf("%d %q: reason %q holds an unsafe character", c.code, c.body, reason)
			}
		}
	}
}

func TestSuperServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if r := SuperServer(context.Background(), ln.Addr().String()); r.Outcome != Up || r.Probe != SuperServerName {
		t.Fatalf("listening: %+v", r)
	}
	r := SuperServer(context.Background(), refusedAddr(t))
	if r.Outcome != Error || !strings.Contains(r.Reason, "refused") {
		t.Fatalf("refused: %+v", r)
	}
	// An expired deadline is an error, even against a live port.
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	if r := SuperServer(ctx, ln.Addr().String()); r.Outcome != Error || !strings.Contains(r.Reason, "timeout") {
		t.Fatalf("expired deadline: %+v", r)
	}
}
