package extcheck

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runWith writes conf (with the server's port) and runs one external
// check of 127.0.0.1 as haproxy would, returning the exit code and output.
func runWith(t *testing.T, port uint16, conf string, fallback Fallback) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "external-check.conf")
	if err := os.WriteFile(path, []byte("port = "+strconv.Itoa(int(port))+"\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	inv := Invocation{ProxyAddr: "NOT_USED", ProxyPort: "NOT_USED", ServerAddr: "127.0.0.1", ServerPort: "1972", ServerName: "ap1a"}
	code := Run(inv, path, &out, fallback)
	return code, out.String()
}

// TestRunOutput: nothing printed on success (haproxy would show a line per
// check per server when verbose), one line on failure, every check with
// debug = true.
func TestRunOutput(t *testing.T) {
	ok, _ := answering(t, "HTTP/1.1 200 OK\r\n\r\nprimary\n", false)
	no, _ := answering(t, "HTTP/1.1 503 Service Unavailable\r\n\r\nnot primary: role standby\n", false)
	html, _ := answering(t, "HTTP/1.1 200 OK\r\n\r\n<html>welcome</html>", false)
	hang, _ := answering(t, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nprimary\n", true)
	url := func(port uint16) string { return "http://127.0.0.1:" + strconv.Itoa(int(port)) + "/primary" }

	if code, out := runWith(t, ok.Port(), "", nil); code != 0 || out != "" {
		t.Errorf("pass: exit %d, output %q, want 0 and nothing", code, out)
	}
	if code, out := runWith(t, ok.Port(), "debug = true\n", nil); code != 0 || out != "OK ap1a "+url(ok.Port())+": 200 primary\n" {
		t.Errorf("pass, debug: exit %d, output %q", code, out)
	}
	if code, out := runWith(t, no.Port(), "", nil); code != 1 || out != "FAIL ap1a "+url(no.Port())+": 503 not primary: role standby\n" {
		t.Errorf("fail: exit %d, output %q", code, out)
	}
	if code, out := runWith(t, html.Port(), "", nil); code != 1 || !strings.Contains(out, `200 but not the agent's answer for primary: "<html>welcome</html>"`) {
		t.Errorf("a web page: exit %d, output %q", code, out)
	}
	start := time.Now()
	if code, out := runWith(t, hang.Port(), "timeout = 300ms\n", nil); code != 1 || !strings.Contains(out, "did not end") || time.Since(start) < 300*time.Millisecond {
		t.Errorf("200 then a hang: exit %d after %v, output %q", code, time.Since(start), out)
	}
	if code, out := runWith(t, ok.Port(), "port = x\n", nil); code != 1 || !strings.Contains(out, "external-check.conf:2: port") || strings.Count(out, "\n") != 1 {
		t.Errorf("bad config: exit %d, output %q", code, out)
	}
}

// TestRunHTTPS: the raw socket speaks plain HTTP only; HTTPS goes to the
// fallback (iris-mirror-agent's), and without one the check fails saying
// which command to use.
func TestRunHTTPS(t *testing.T) {
	ok, reqs := answering(t, "HTTP/1.1 200 OK\r\n\r\nprimary\n", false)
	code, out := runWith(t, ok.Port(), "scheme = https\n", nil)
	if code != 1 || !strings.Contains(out, "scheme = https") || !strings.Contains(out, "iris-mirror-agent") || strings.Count(out, "\n") != 1 {
		t.Errorf("https without fallback: exit %d, output %q", code, out)
	}
	var asked string
	code, out = runWith(t, ok.Port(), "scheme = https\n", func(cfg Config, url string) (Answer, error) {
		asked = url
		return Answer{Code: 200, Check: "primary", Line: "primary", Pass: true}, nil
	})
	if code != 0 || out != "" || asked != "https://127.0.0.1:"+strconv.Itoa(int(ok.Port()))+"/primary" {
		t.Errorf("https with fallback: exit %d, output %q, asked %q", code, out, asked)
	}
	if len(reqs()) != 0 {
		t.Errorf("plain HTTP sent for scheme https: %q", reqs())
	}
}
