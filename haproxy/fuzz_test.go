package haproxy

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

func FuzzParseSend(f *testing.F) {
	for _, s := range []string{"", "primary\n", "STANDBY\r\n", " health , x\n", "live", "bogus\n", "\x00\xff\x1b[2J\n", "#\n", strings.Repeat("A", 300)} {
		f.Add([]byte(s))
	}
	srv := &AgentServer{Snapshot: func() *checker.Snapshot { return snapshot(probe.Primary, "mirror_status 200 SUCCESS") }}
	f.Fuzz(func(t *testing.T, sent []byte) {
		c, word, ok := ParseSend(sent)
		if ok && c.String() == "invalid" {
			t.Fatalf("%q: ok with an invalid check %d", sent, c)
		}
		if !ok {
			if len(word) > 32 {
				t.Fatalf("%q: echoed word %d bytes long", sent, len(word))
			}
			for _, b := range []byte(word) {
				if b < 0x21 || b > 0x7e || b == ',' {
					t.Fatalf("%q: echoed word %q holds %q", sent, word, b)
				}
			}
		}
		// Whatever arrives, the reply is exactly one agent-check line.
		reply := srv.Answer(sent)
		if bytes.Count(reply, []byte("\n")) != 1 || reply[len(reply)-1] != '\n' || bytes.ContainsAny(reply, "\r\x00") {
			t.Fatalf("%q: reply %q is not one line", sent, reply)
		}
		if !bytes.HasPrefix(reply, []byte(ReplyUp)) && !bytes.HasPrefix(reply, []byte(downPrefix)) && string(reply) != ReplyMaintenance {
			t.Fatalf("%q: reply %q", sent, reply)
		}
	})
}

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
		inv, ok := DetectExternalCheck(argv, func(k string) string { return env[k] })
		if !ok {
			return
		}
		if len(argv) != 4 {
			t.Fatalf("detected with %d arguments", len(argv))
		}
		// The server address goes into a URL: it may only ever become the
		// host, never a path, userinfo, query or another host.
		raw, err := DefaultExternalCheckConfig().URL(inv)
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
	})
}

func FuzzParseExternalCheckConfig(f *testing.F) {
	f.Add([]byte("# /etc/iris-mirror-agent/external-check.conf\nport = 9797\npath = /primary\ntimeout = 400ms\nscheme = http\n"))
	f.Add([]byte("port=99999\n"))
	f.Add([]byte("timeout = 1h\n"))
	f.Add([]byte("path = /a b\n"))
	f.Add([]byte("nokey\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseExternalCheckConfig(bytes.NewReader(data), "external-check.conf")
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if (cfg.Scheme != "http" && cfg.Scheme != "https") || cfg.Port < 1 || cfg.Port > 65535 ||
			!strings.HasPrefix(cfg.Path, "/") || cfg.Timeout <= 0 || cfg.Timeout > 60e9 {
			t.Fatalf("accepted %+v", cfg)
		}
		raw, err := cfg.URL(Invocation{ServerAddr: "127.0.0.1", ServerPort: "1972"})
		if err != nil {
			t.Fatalf("valid config, fixed address: %v", err)
		}
		if u, err := url.Parse(raw); err != nil || u.Host == "" || u.Path != cfg.Path {
			t.Fatalf("config %+v gives URL %q", cfg, raw)
		}
	})
}
