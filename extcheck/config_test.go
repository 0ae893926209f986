package extcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join(t.TempDir(), "missing.conf"))
	if err != nil || cfg != DefaultConfig() {
		t.Fatalf("missing file: %+v %v", cfg, err)
	}
	for addr, want := range map[string]string{
		"127.0.1.1":      "http://127.0.1.1:9797/primary",
		"::1":            "http://[::1]:9797/primary",
		"::ffff:1.2.3.4": "http://[::ffff:1.2.3.4]:9797/primary",
		"ap1a.example":   "http://ap1a.example:9797/primary", // for iris-mirror-agent, which resolves names
	} {
		if u, err := cfg.URL(Invocation{ServerAddr: addr}); err != nil || u != want {
			t.Errorf("%s: URL %q %v, want %q", addr, u, err, want)
		}
	}
	if a, err := cfg.Addr(Invocation{ServerAddr: "::1"}); err != nil || a.String() != "[::1]:9797" {
		t.Errorf("Addr ::1: %v %v", a, err)
	}
	if _, err := cfg.Addr(Invocation{ServerAddr: "ap1a.example"}); err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Errorf("Addr of a name: %v", err)
	}

	path := filepath.Join(t.TempDir(), "x.conf")
	_ = os.WriteFile(path, []byte("# fast profile\nport = 19797\npath=/standby\n timeout = 200ms \nscheme = https\ndebug = true\n"), 0o644)
	cfg, err = LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 19797 || cfg.Path != "/standby" || cfg.Timeout != 200*time.Millisecond || cfg.Scheme != "https" || !cfg.Debug {
		t.Fatalf("%+v", cfg)
	}

	for _, bad := range []string{"port = 0", "port = x", "path = primary", "path = /a\rb", "path = /a%zz", "path = /a\"b", "path = /é",
		"timeout = -1s", "timeout = 2m", "timeout = 1ns", "scheme = ftp", "debug = maybe", "nonsense", "color = red"} {
		_, err := ParseConfig(strings.NewReader(bad), "t.conf")
		if err == nil || !strings.HasPrefix(err.Error(), "t.conf:1:") || strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, good := range []string{"/", "/primary", "/agent/primary", "/a%2Fb", "/~x;y=1:2@3"} {
		if _, err := ParseConfig(strings.NewReader("path = "+good), "t.conf"); err != nil {
			t.Errorf("path %q: %v", good, err)
		}
	}
	for _, addr := range []string{"", "a b", "h/x", "user@h", "fe80::1%eth0", "fe80::1%eth0/x", "[::1]"} {
		if _, err := DefaultConfig().URL(Invocation{ServerAddr: addr}); err == nil {
			t.Errorf("server addr %q accepted", addr)
		}
	}
}

func TestConfigTLSKeys(t *testing.T) {
	for _, bad := range []string{"ca_file = relative.pem", "insecure_skip_verify = maybe", "cert_file = /a.pem", "key_file = /a.pem"} {
		if _, err := ParseConfig(strings.NewReader(bad), "t.conf"); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	cfg, err := ParseConfig(strings.NewReader("insecure_skip_verify = true\npath = /primary\t# tab comment\n"), "t.conf")
	if err != nil || !cfg.InsecureSkipVerify || cfg.Path != "/primary" {
		t.Fatalf("%+v %v", cfg, err)
	}
}

// confSamples returns every external-check.conf sample in a Markdown
// file: a code block that starts with the file's path as a comment.
func confSamples(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	rest := string(b)
	for {
		i := strings.Index(rest, "# "+ConfigPath+"\n")
		if i < 0 {
			return out
		}
		sample, _, _ := strings.Cut(rest[i:], "```")
		out = append(out, sample)
		rest = rest[i+1:]
	}
}

// TestDocumentedConfig parses the samples in docs/external-check.md as
// printed: the first shows every default, so the page and the code agree;
// a sample's commented-out "# key = value" lines must parse too. Samples
// elsewhere in the docs (the README's) must at least parse.
func TestDocumentedConfig(t *testing.T) {
	samples := confSamples(t, "../docs/external-check.md")
	if len(samples) == 0 {
		t.Fatal("docs/external-check.md has no external-check.conf sample")
	}
	cfg, err := ParseConfig(strings.NewReader(samples[0]), "docs sample")
	if err != nil || cfg != DefaultConfig() {
		t.Fatalf("the page's first sample must show the defaults: %+v %v, defaults %+v", cfg, err, DefaultConfig())
	}
	others, _ := filepath.Glob("../docs/*.md")
	others = append(others, "../README.md")
	for _, f := range others {
		for _, s := range confSamples(t, f) {
			if _, err := ParseConfig(strings.NewReader(s), f); err != nil {
				t.Errorf("%s: sample does not parse: %v", f, err)
			}
			var uncommented strings.Builder
			for _, line := range strings.Split(s, "\n") {
				if rest, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(rest, " = ") {
					line = rest
				}
				uncommented.WriteString(line + "\n")
			}
			if _, err := ParseConfig(strings.NewReader(uncommented.String()), f); err != nil {
				t.Errorf("%s: sample with its optional lines does not parse: %v", f, err)
			}
		}
	}
}
