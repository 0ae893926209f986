package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/extcheck"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

func TestMain(m *testing.M) { itest.Main(m) }

// stub is a loopback server that answers every request with exactly the
// bytes it is set to, then closes, or holds the connection if hang.
type stub struct {
	mu    sync.Mutex
	reply string
	hang  bool
	ln    net.Listener
	held  []net.Conn
}

func startStub(t *testing.T, addr string) *stub {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &stub{ln: ln}
	t.Cleanup(s.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *stub) serve(c net.Conn) {
	var req []byte
	buf := make([]byte, 512)
	for !bytes.Contains(req, []byte("\r\n\r\n")) {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		req = append(req, buf[:n]...)
		if err != nil {
			break
		}
	}
	s.mu.Lock()
	reply, hang := s.reply, s.hang
	if hang {
		s.held = append(s.held, c)
	}
	s.mu.Unlock()
	_, _ = io.WriteString(c, reply)
	if !hang {
		c.Close()
	}
}

func (s *stub) set(reply string, hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply, s.hang = reply, hang
}

func (s *stub) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.held {
		c.Close()
	}
}

// runBin runs bin with exactly env and returns its exit code and output
// (stdout then stderr). closed runs it as haproxy does, with stdin,
// stdout and stderr closed (no output then).
func runBin(t *testing.T, bin string, env []string, closed bool, args ...string) (int, string) {
	t.Helper()
	var cmd *exec.Cmd
	if closed {
		cmd = exec.Command("/bin/sh", append([]string{"-c", `exec "$0" "$@" <&- >&- 2>&-`, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String() + stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String() + stderr.String()
}

// TestExternalCheckBothBinaries runs both binaries exactly as haproxy
// does (four arguments, only HAPROXY_* and PATH, stdio closed) against a
// loopback agent that answers the bytes shown: same exit codes, same
// output, nothing printed on a pass.
func TestExternalCheckBothBinaries(t *testing.T) {
	small := itest.CheckBinary(t)
	big, _ := itest.Binaries(t)
	// The agent answers on <server_addr>:9797 (no settings file here), so
	// the server gets its own loopback address.
	ip := itest.NewLoopback(t).IP(1)
	s := startStub(t, ip+":9797")
	env := []string{"HAPROXY_PROXY_ADDR=", "HAPROXY_PROXY_ID=3", "HAPROXY_PROXY_NAME=ap1", "HAPROXY_PROXY_PORT=",
		"HAPROXY_SERVER_ADDR=" + ip, "HAPROXY_SERVER_CURCONN=0", "HAPROXY_SERVER_ID=1", "HAPROXY_SERVER_MAXCONN=0",
		"HAPROXY_SERVER_NAME=ap1a", "HAPROXY_SERVER_PORT=1972", "PATH=/usr/bin:/bin"}
	args := []string{"NOT_USED", "NOT_USED", ip, "1972"}
	url := "http://" + ip + ":9797/primary"
	cases := []struct {
		name, reply string
		code        int
		out         string
	}{
		{"primary", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nprimary\n", 0, ""},
		{"not primary", "HTTP/1.1 503 Service Unavailable\r\n\r\nnot primary: role standby\n", 1, "FAIL ap1a " + url + ": 503 not primary: role standby\n"},
		{"a web page", "HTTP/1.1 200 OK\r\n\r\n<html>welcome</html>", 1, "FAIL ap1a " + url + ": 200 but not the agent's answer for primary: \"<html>welcome</html>\"\n"},
		{"signed status", "HTTP/1.1 +200 OK\r\n\r\nprimary\n", 1, "FAIL ap1a " + url + ": malformed HTTP status line \"HTTP/1.1 +200 OK\"\n"},
	}
	for _, c := range cases {
		s.set(c.reply, false)
		for _, bin := range []string{small, big} {
			code, out := runBin(t, bin, env, false, args...)
			if code != c.code || out != c.out {
				t.Errorf("%s, %s: exit %d, output %q; want %d, %q", c.name, filepath.Base(bin), code, out, c.code, c.out)
			}
			if code, _ := runBin(t, bin, env, true, args...); code != c.code {
				t.Errorf("%s, %s, stdio closed: exit %d, want %d", c.name, filepath.Base(bin), code, c.code)
			}
		}
	}
	// 200 and the right body, then the connection hangs: a failure at the
	// timeout (the settings' default), not a pass.
	s.set("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nprimary\n", true)
	timeout := extcheck.DefaultConfig().Timeout
	for _, bin := range []string{small, big} {
		start := time.Now()
		code, out := runBin(t, bin, env, false, args...)
		if took := time.Since(start); code != 1 || took < timeout || took > 10*timeout || !strings.Contains(out, "did not end") {
			t.Errorf("hang, %s: exit %d after %v (timeout %v): %q", filepath.Base(bin), code, took, timeout, out)
		}
	}
	s.close()
	for _, bin := range []string{small, big} {
		if code, out := runBin(t, bin, env, false, args...); code != 1 || !strings.Contains(out, "refused") {
			t.Errorf("agent gone, %s: exit %d %q", filepath.Base(bin), code, out)
		}
	}
}

// TestHealthcheckBothBinaries: iris-mirror-check healthcheck says and
// exits what iris-mirror-agent healthcheck does, itself for plain
// settings, through iris-mirror-agent for the rest; never exit 2.
func TestHealthcheckBothBinaries(t *testing.T) {
	small := itest.CheckBinary(t)
	big, _ := itest.Binaries(t)
	addr := itest.NewLoopback(t).IP(1) + ":9797"
	s := startStub(t, addr)
	listen := "MIRROR_AGENT_HTTP_LISTEN=" + addr
	cases := []struct {
		name  string
		reply string
		env   []string
		args  []string
		code  int
	}{
		{"live", "HTTP/1.1 200 OK\r\n\r\nlive\n", []string{listen}, nil, 0},
		{"not live", "HTTP/1.1 503 Service Unavailable\r\n\r\nnot live: stale\n", []string{listen}, nil, 1},
		{"primary", "HTTP/1.1 200 OK\r\n\r\nprimary\n", []string{listen, "MIRROR_AGENT_HEALTHCHECK_ENDPOINT=primary", "MIRROR_AGENT_HEALTHCHECK_TIMEOUT=500ms"}, nil, 0},
		{"a web page", "HTTP/1.1 200 OK\r\n\r\n<html>welcome</html>", []string{listen}, nil, 1},
		{"a URL (handed over)", "HTTP/1.1 200 OK\r\n\r\nlive\n", []string{"MIRROR_AGENT_HEALTHCHECK_URL=http://" + addr}, nil, 0},
		{"a flag (handed over)", "HTTP/1.1 200 OK\r\n\r\nhealthy: up\n", []string{listen}, []string{"--endpoint", "health"}, 0},
		{"bad endpoint", "", []string{listen, "MIRROR_AGENT_HEALTHCHECK_ENDPOINT=standby"}, nil, 1},
		{"bad timeout", "", []string{listen, "MIRROR_AGENT_HEALTHCHECK_TIMEOUT=soon"}, nil, 1},
		{"no fixed port", "", []string{"MIRROR_AGENT_HTTP_LISTEN=:0"}, nil, 1},
		{"unknown flag", "", nil, []string{"--bogus"}, 1},
		{"help", "", nil, []string{"--help"}, 0},
	}
	for _, c := range cases {
		s.set(c.reply, false)
		env := append([]string{"PATH=/usr/bin:/bin"}, c.env...)
		args := append([]string{"healthcheck"}, c.args...)
		code, out := runBin(t, small, env, false, args...)
		bigCode, bigOut := runBin(t, big, env, false, args...)
		if code != c.code || bigCode != c.code || out != bigOut {
			t.Errorf("%s: iris-mirror-check exit %d %q; iris-mirror-agent exit %d %q; want exit %d from both, same output", c.name, code, out, bigCode, bigOut, c.code)
		}
	}

	// Alone, without iris-mirror-agent next to it: what it cannot read
	// itself fails (exit 1) saying why.
	alone := filepath.Join(t.TempDir(), "iris-mirror-check")
	b, err := os.ReadFile(small)
	if err != nil || os.WriteFile(alone, b, 0o755) != nil {
		t.Fatal(err)
	}
	code, out := runBin(t, alone, []string{"MIRROR_AGENT_TLS_CERT_FILE=/x.pem"}, false, "healthcheck")
	if code != 1 || !strings.Contains(out, "iris-mirror-agent healthcheck") || strings.Count(out, "\n") != 1 {
		t.Errorf("alone: exit %d %q", code, out)
	}
}

func TestUsage(t *testing.T) {
	small := itest.CheckBinary(t)
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{nil, 2, "Usage"},
		{[]string{"serve"}, 2, "unknown command"},
		{[]string{"--help"}, 0, "external-check"},
		{[]string{"version"}, 0, "iris-mirror-check "},
	} {
		if code, out := runBin(t, small, nil, false, c.args...); code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%v: exit %d %q", c.args, code, out)
		}
	}
}
