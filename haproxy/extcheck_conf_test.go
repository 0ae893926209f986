package haproxy

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestReadmeExternalCheckConfig parses the example file in
// docs/migrating-from-check-sh.md as it is printed there, with its
// trailing comments, and with the HTTPS lines uncommented.
func TestReadmeExternalCheckConfig(t *testing.T) {
	readme, err := os.ReadFile("../docs/migrating-from-check-sh.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "# /etc/iris-mirror-agent/external-check.conf\n"
	i := strings.Index(string(readme), start)
	if i < 0 {
		t.Fatal("docs/migrating-from-check-sh.md has no external-check.conf example")
	}
	example, _, _ := strings.Cut(string(readme[i:]), "```")
	cfg, err := ParseExternalCheckConfig(strings.NewReader(example), "README")
	if err != nil {
		t.Fatalf("the README's example does not parse: %v", err)
	}
	if cfg.Port != 9797 || cfg.Path != "/primary" || cfg.Timeout != 400*time.Millisecond || cfg.Scheme != "http" {
		t.Fatalf("README example read as %+v", cfg)
	}
	var https strings.Builder
	for _, line := range strings.Split(example, "\n") {
		if rest, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(rest, " = ") {
			line = rest
		}
		https.WriteString(line + "\n")
	}
	cfg, err = ParseExternalCheckConfig(strings.NewReader(https.String()), "README")
	if err != nil {
		t.Fatalf("the README's HTTPS example does not parse: %v", err)
	}
	if cfg.Scheme != "https" || cfg.CAFile != "/etc/iris-mirror-agent/agent-ca.pem" || cfg.CertFile == "" || cfg.KeyFile == "" {
		t.Fatalf("README HTTPS example read as %+v", cfg)
	}
}

func TestExternalCheckTLSKeys(t *testing.T) {
	for _, bad := range []string{"ca_file = relative.pem", "insecure_skip_verify = maybe", "cert_file = /a.pem", "key_file = /a.pem"} {
		if _, err := ParseExternalCheckConfig(strings.NewReader(bad), "t.conf"); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	cfg, err := ParseExternalCheckConfig(strings.NewReader("insecure_skip_verify = true\npath = /primary\t# tab comment\n"), "t.conf")
	if err != nil || !cfg.InsecureSkipVerify || cfg.Path != "/primary" {
		t.Fatalf("%+v %v", cfg, err)
	}
}
