package extcheck

import (
	"bytes"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func FuzzDetectExternalCheck(f *testing.F) {
	f.Add("NOT_USED\x00NOT_USED\x00127.0.0.1\x001972", "HAPROXY_SERVER_ADDR=127.0.0.1\x00HAPROXY_SERVER_NAME=ap1a")
	f.Add("10.0.0.1\x0080\x00::1\x001972", "HAPROXY_SERVER_ADDR=::1")
	f.Add("serve\x00--interval\x001s\x00x", "")
	f.Add("NOT_USED\x00NOT_USED\x00h@evil/x?#\x001972", "")
	f.Fuzz(func(t *testing.T, args, environ string) {
		argv := strings.Split(args, "\x00")
		env := map[string]string{}
		for _, kv := range strings.Split(environ, "\x00") {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		inv, ok := Detect(argv, func(k string) string { return env[k] })
		if !ok {
			return
		}
		if len(argv) != 4 {
			t.Fatalf("detected with %d arguments", len(argv))
		}
		// The server address goes into a URL and a Host header: it may
		// only ever become the host, never a path, userinfo, query,
		// another host or another header line.
		cfg := DefaultConfig()
		raw, err := cfg.URL(inv)
		if err != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("built an unparsable URL %q from %q", raw, inv.ServerAddr)
		}
		if u.Hostname() != strings.Trim(inv.ServerAddr, "[]") || u.Port() != "9797" || u.Path != "/primary" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("server address %q became URL %q", inv.ServerAddr, raw)
		}
		req, err := cfg.Request(inv)
		if b, berr := req.bytes(); err != nil || berr != nil || bytes.Count(b, []byte("\n")) != 4 {
			t.Fatalf("server address %q became request %q (%v %v)", inv.ServerAddr, b, err, berr)
		}
		if a, err := cfg.Addr(inv); err == nil {
			if ip, err := netip.ParseAddr(u.Hostname()); err != nil || ip != a.Addr() {
				t.Fatalf("server address %q: connects to %v, names %q", inv.ServerAddr, a, u.Hostname())
			}
		}
	})
}

func FuzzParseExternalCheckConfig(f *testing.F) {
	f.Add([]byte("# /etc/iris-mirror-agent/external-check.conf\nport = 9797\npath = /primary\ntimeout = 1s\nscheme = http\ndebug = false\n"))
	f.Add([]byte("port=99999\n"))
	f.Add([]byte("timeout = 1h\n"))
	f.Add([]byte("path = /a b\n"))
	f.Add([]byte("nokey\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(bytes.NewReader(data), "external-check.conf")
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if (cfg.Scheme != "http" && cfg.Scheme != "https") || cfg.Port < 1 || cfg.Port > 65535 ||
			!strings.HasPrefix(cfg.Path, "/") || cfg.Timeout < time.Millisecond || cfg.Timeout > time.Minute {
			t.Fatalf("accepted %+v", cfg)
		}
		inv := Invocation{ServerAddr: "127.0.0.1", ServerPort: "1972"}
		raw, err := cfg.URL(inv)
		if err != nil {
			t.Fatalf("valid config, fixed address: %v", err)
		}
		if u, err := url.Parse(raw); err != nil || u.Host == "" || u.EscapedPath() != cfg.Path || u.RawQuery != "" {
			t.Fatalf("config %+v gives URL %q", cfg, raw)
		}
		// The path goes into the request line as it is: one line, three words.
		req, _ := cfg.Request(inv)
		b, err := req.bytes()
		first, _, _ := bytes.Cut(b, []byte("\r\n"))
		if err != nil || len(bytes.Fields(first)) != 3 || bytes.Count(b, []byte("\n")) != 4 {
			t.Fatalf("config %+v gives request %q (%v)", cfg, b, err)
		}
	})
}

// FuzzReadAnswer: whatever a server sends, the answer passes only if it is
// the agent's positive answer, byte for byte where it matters, and the
// message about it is one printable line.
func FuzzReadAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nprimary\n",
		"HTTP/1.0 200 OK\r\n\r\nprimary\n",
		"HTTP/1.1 503 Service Unavailable\r\n\r\nnot primary: role standby\n",
		"HTTP/1.1 +200 OK\r\n\r\nprimary\n",
		"HTTP/9 0200 OK\r\n\r\nprimary\n",
		"HTTP/1.1 200 OK\r\n\r\n<html>welcome</html>",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nprimary\n\r\n0\r\n\r\n",
		"\x00\xff\x1b[2J\n",
	} {
		f.Add([]byte(s), "primary")
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\nhealthy: primary: mirror_status 200 SUCCESS\n"), "health")
	f.Fuzz(func(t *testing.T, data []byte, check string) {
		if !validPath("/"+check) || strings.Contains(check, "/") {
			check = "primary" // a check name comes from a path the settings checked
		}
		a, err := ReadAnswer(bytes.NewReader(data), check)
		msg := Describe("http://127.0.0.1:9797/"+check, a, err)
		if a.Pass {
			if err != nil || a.Code != 200 {
				t.Fatalf("%q: pass with code %d, error %v", data, a.Code, err)
			}
			if !bytes.HasPrefix(data, []byte("HTTP/1.0 200 ")) && !bytes.HasPrefix(data, []byte("HTTP/1.1 200 ")) {
				t.Fatalf("%q: pass without a strict 200 status line", data)
			}
			i := bytes.Index(data, []byte("\n\r\n"))
			if j := bytes.Index(data, []byte("\n\n")); i < 0 || (j >= 0 && j < i) {
				i = j
			}
			body := data[i+bytes.IndexByte(data[i+1:], '\n')+2:]
			want := check + "\n"
			if check == "health" {
				want = string(body)
				if !strings.HasPrefix(want, "healthy: ") {
					t.Fatalf("%q: health passed on %q", data, body)
				}
			}
			if string(body) != want || strings.Count(want, "\n") != 1 {
				t.Fatalf("%q: passed %s on body %q", data, check, body)
			}
			if bytes.Contains(bytes.ToLower(data[:i]), []byte("transfer-encoding")) {
				t.Fatalf("%q: passed with a Transfer-Encoding", data)
			}
		}
		if strings.ContainsAny(msg, "\r\n\x00\x1b") || len(a.Line) > 200*3 {
			t.Fatalf("%q: message %q", data, msg)
		}
	})
}
