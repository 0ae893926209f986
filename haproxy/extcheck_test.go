package haproxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestDetectExternalCheck(t *testing.T) {
	hap := env(map[string]string{"HAPROXY_SERVER_ADDR": "127.0.1.1", "HAPROXY_SERVER_NAME": "ap1a"})
	none := env(nil)
	cases := []struct {
		args   []string
		getenv func(string) string
		ok     bool
	}{
		{[]string{"NOT_USED", "NOT_USED", "127.0.1.1", "1972"}, hap, true},
		{[]string{"NOT_USED", "NOT_USED", "127.0.1.1", "1972"}, none, true}, // env fully cleared
		{[]string{"0.0.0.0", "1972", "127.0.1.1", "1972"}, hap, true},       // listen section
		{[]string{"0.0.0.0", "1972", "127.0.1.1", "1972"}, none, false},
		{[]string{"serve"}, hap, false},
		{[]string{"check", "--url", "x", "y"}, none, false},
		{nil, hap, false},
	}
	for _, tc := range cases {
		inv, ok := DetectExternalCheck(tc.args, tc.getenv)
		if ok != tc.ok {
			t.Errorf("%q: detected=%v, want %v", tc.args, ok, tc.ok)
		}
		if ok && inv.ServerAddr != "127.0.1.1" {
			t.Errorf("%q: server addr %q", tc.args, inv.ServerAddr)
		}
	}
}

func TestExternalCheckConfig(t *testing.T) {
	cfg, err := LoadExternalCheckConfig(filepath.Join(t.TempDir(), "missing.conf"))
	if err != nil || cfg != DefaultExternalCheckConfig() {
		t.Fatalf("missing file: %+v %v", cfg, err)
	}
	u, err := cfg.URL(Invocation{ServerAddr: "127.0.1.1"})
	if err != nil || u != "http://127.0.1.1:9797/primary" {
		t.Fatalf("default URL %q %v", u, err)
	}
	u, _ = cfg.URL(Invocation{ServerAddr: "::1"})
	if u != "http://[::1]:9797/primary" {
		t.Fatalf("IPv6 URL %q", u)
	}

	path := filepath.Join(t.TempDir(), "x.conf")
	_ = os.WriteFile(path, []byte("# fast profile\nport = 19797\npath=/standby\n timeout = 200ms \nscheme = https\n"), 0o644)
	cfg, err = LoadExternalCheckConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 19797 || cfg.Path != "/standby" || cfg.Timeout != 200*time.Millisecond || cfg.Scheme != "https" {
		t.Fatalf("%+v", cfg)
	}

	for _, bad := range []string{"port = 0", "port = x", "path = primary", "timeout = -1s", "timeout = 2m", "scheme = ftp", "nonsense", "color = red"} {
		_, err := ParseExternalCheckConfig(strings.NewReader(bad), "t.conf")
		if err == nil || !strings.HasPrefix(err.Error(), "t.conf:1:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, addr := range []string{"", "a b", "h/x", "user@h", "fe80::1%eth0/x"} {
		if _, err := DefaultExternalCheckConfig().URL(Invocation{ServerAddr: addr}); err == nil {
			t.Errorf("server addr %q accepted", addr)
		}
	}
}
