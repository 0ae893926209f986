package extcheck

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// answering is a loopback server that reads one request and writes
// exactly reply, then closes the connection, or keeps it open until the
// test ends if hang. It returns its address and the requests it read.
func answering(t *testing.T, reply string, hang bool) (netip.AddrPort, func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		reqs []string
		open []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			go func() {
				var req []byte
				buf := make([]byte, 512)
				for !strings.Contains(string(req), "\r\n\r\n") {
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, err := c.Read(buf)
					req = append(req, buf[:n]...)
					if err != nil {
						break
					}
				}
				mu.Lock()
				reqs = append(reqs, string(req))
				mu.Unlock()
				_, _ = io.WriteString(c, reply)
				if !hang {
					c.Close()
				}
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), reqs...)
	}
}

func ask(t *testing.T, addr netip.AddrPort, path string, timeout time.Duration) (Answer, error) {
	t.Helper()
	return Ask(addr, Request{Host: addr.String(), Path: path, UserAgent: UserAgent}, time.Now().Add(timeout))
}

// TestStrictAnswers: the check passes only on the agent's own positive
// answer. Each case is a real loopback server answering exactly the bytes
// shown, then closing.
func TestStrictAnswers(t *testing.T) {
	const hdr = "Content-Type: text/plain; charset=utf-8\r\n"
	cases := []struct {
		name, path, reply string
		pass              bool
		errHas            string // "" for no error
	}{
		{"the agent, HTTP/1.1 with length", "/primary", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n" + hdr + "\r\nprimary\n", true, ""},
		{"HTTP/1.0, no length, ends at close", "/primary", "HTTP/1.0 200 OK\r\n\r\nprimary\n", true, ""},
		{"empty reason phrase", "/primary", "HTTP/1.1 200 \r\n\r\nprimary\n", true, ""},
		{"root is primary", "/", "HTTP/1.1 200 OK\r\n\r\nprimary\n", true, ""},
		{"health with its reason", "/health", "HTTP/1.1 200 OK\r\n\r\nhealthy: primary: mirror_status 200 SUCCESS\n", true, ""},
		{"standby", "/standby", "HTTP/1.1 200 OK\r\n\r\nstandby\n", true, ""},

		{"signed status", "/primary", "HTTP/1.1 +200 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"four digits, HTTP/9", "/primary", "HTTP/9 0200 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"leading zero", "/primary", "HTTP/1.1 0200 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"four digits", "/primary", "HTTP/1.1 2000 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"two digits", "/primary", "HTTP/1.1 20 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"no space after the code", "/primary", "HTTP/1.1 200OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"no reason, no space", "/primary", "HTTP/1.1 200\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"HTTP/2", "/primary", "HTTP/2 200 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"lower case", "/primary", "http/1.1 200 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"leading space", "/primary", " HTTP/1.1 200 OK\r\n\r\nprimary\n", false, "malformed HTTP status line"},
		{"not HTTP", "/primary", "SSH-2.0-OpenSSH_9.2\r\n", false, "malformed HTTP status line"},
		{"closed without a word", "/primary", "", false, "no HTTP status line"},

		{"a web page", "/primary", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>welcome</html>", false, ""},
		{"a web page with a newline", "/primary", "HTTP/1.1 200 OK\r\n\r\n<html>welcome</html>\n", false, ""},
		{"another check's answer", "/primary", "HTTP/1.1 200 OK\r\n\r\nstandby\n", false, ""},
		{"no newline", "/primary", "HTTP/1.1 200 OK\r\n\r\nprimary", false, ""},
		{"CRLF body", "/primary", "HTTP/1.1 200 OK\r\n\r\nprimary\r\n", false, ""},
		{"upper case body", "/primary", "HTTP/1.1 200 OK\r\n\r\nPRIMARY\n", false, ""},
		{"two lines", "/primary", "HTTP/1.1 200 OK\r\n\r\nprimary\nstandby\n", false, ""},
		{"empty body", "/primary", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, ""},
		{"health without reason", "/health", "HTTP/1.1 200 OK\r\n\r\nhealthy\n", false, ""},

		{"length too long", "/primary", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nprimary\n", false, "Content-Length 9"},
		{"length too short", "/primary", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nprimary\n", false, "Content-Length 7"},
		{"signed length", "/primary", "HTTP/1.1 200 OK\r\nContent-Length: +8\r\n\r\nprimary\n", false, "bad Content-Length"},
		{"two lengths", "/primary", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Length: 9\r\n\r\nprimary\n", false, "bad Content-Length"},
		{"chunked", "/primary", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nprimary\n\r\n0\r\n\r\n", false, "Transfer-Encoding"},
		{"folded header", "/primary", "HTTP/1.1 200 OK\r\n folded\r\n\r\nprimary\n", false, "malformed header"},
		{"space in a header name", "/primary", "HTTP/1.1 200 OK\r\nX Bad: 1\r\n\r\nprimary\n", false, "malformed header"},
		{"cut in the headers", "/primary", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n", false, "cut short"},
		{"too long", "/primary", "HTTP/1.1 200 OK\r\n\r\nprimary\n" + strings.Repeat("x", MaxAnswer), false, "longer than"},

		{"not primary", "/primary", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 47\r\n\r\nnot primary: role standby: mirror_status 503\n", false, ""},
		{"a redirect", "/primary", "HTTP/1.1 302 Found\r\nLocation: /primary\r\n\r\n", false, ""},
	}
	for _, tc := range cases {
		addr, _ := answering(t, tc.reply, false)
		a, err := ask(t, addr, tc.path, 5*time.Second)
		switch {
		case tc.errHas == "" && err != nil:
			t.Errorf("%s: error %v", tc.name, err)
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.errHas)
		case a.Pass != tc.pass:
			t.Errorf("%s: pass=%v, want %v (%+v)", tc.name, a.Pass, tc.pass, a)
		}
		if msg := Describe("u", a, err); strings.ContainsAny(msg, "\r\n") {
			t.Errorf("%s: message is not one line: %q", tc.name, msg)
		}
	}
}

// TestHangingAnswers: an answer that has not ended by the deadline fails
// at the deadline, never before it and never as a pass, whatever it
// already said.
func TestHangingAnswers(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for name, reply := range map[string]string{
		"200 and the body, never closed":  "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nprimary\n",
		"200 then nothing":                "HTTP/1.0 200 OK\r\n\r\n",
		"200 and half a body":             "HTTP/1.0 200 OK\r\n\r\nprim",
		"200 and half the headers":        "HTTP/1.0 200 OK\r\nContent-",
		"half a status line":              "HTTP/1.0 2",
		"accepts and never answers":       "",
		"503 then nothing (still a fail)": "HTTP/1.1 503 Service Unavailable\r\n\r\n",
	} {
		addr, _ := answering(t, reply, true)
		start := time.Now()
		a, err := ask(t, addr, "/primary", timeout)
		took := time.Since(start)
		if a.Pass || took < timeout || took > 10*timeout {
			t.Errorf("%s: pass=%v after %v (timeout %v): %v", name, a.Pass, took, timeout, err)
		}
		if a.Code != 503 && (err == nil || !strings.Contains(err.Error(), "timeout")) {
			t.Errorf("%s: error %v, want a timeout", name, err)
		}
	}
}

func TestAskRequestAndFailures(t *testing.T) {
	addr, reqs := answering(t, "HTTP/1.1 200 OK\r\n\r\nprimary\n", false)
	if a, err := ask(t, addr, "/primary", 5*time.Second); err != nil || !a.Pass {
		t.Fatalf("%+v %v", a, err)
	}
	want := "GET /primary HTTP/1.0\r\nHost: " + addr.String() + "\r\nUser-Agent: " + UserAgent + "\r\n\r\n"
	if got := reqs(); len(got) != 1 || got[0] != want {
		t.Errorf("request %q, want %q", got, want)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	if _, err := ask(t, refused, "/primary", time.Second); err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), refused.String()) {
		t.Errorf("refused: %v", err)
	}
	for _, bad := range []Request{{Host: "h", Path: "primary"}, {Host: "h", Path: "/a b"}, {Host: "h\r\nX: y", Path: "/"}, {Host: "h", Path: "/", UserAgent: "u\n"}} {
		if _, err := Ask(addr, bad, time.Now().Add(time.Second)); err == nil {
			t.Errorf("request %+v sent", bad)
		}
	}
	if _, err := Ask(addr, Request{Host: "h", Path: "/"}, time.Now().Add(-time.Second)); err == nil || !isTimeout(err) {
		t.Errorf("past deadline: %v", err)
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func TestCheckOf(t *testing.T) {
	for path, want := range map[string]string{"/primary": "primary", "/": "primary", "/agent/standby": "standby", "/primary?x=/y": "primary", "/health": "health"} {
		if got := CheckOf(path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}
