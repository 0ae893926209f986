package itest

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// Caddy is a running caddy (Debian's package).
type Caddy struct {
	Proc *Proc
}

// caddyEnv keeps caddy's state (autosaved config, data, certificates)
// and its admin endpoint in a temporary directory: tests do not touch
// the user's, and concurrent runs do not share the default localhost:2019.
func caddyEnv(t testing.TB, env []string) []string {
	t.Helper()
	dir := t.TempDir()
	return append([]string{
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"CADDY_ADMIN=unix/" + filepath.Join(dir, "admin.sock"),
	}, env...)
}

// CaddyValidate runs `caddy validate` on a Caddyfile with env (the
// Caddyfile's {$VAR} placeholders) and returns its output.
func CaddyValidate(t testing.TB, caddyfile string, env []string) (string, error) {
	t.Helper()
	bin := RequireTool(t, "caddy")
	return Run([]string{bin, "validate", "--config", caddyfile, "--adapter", "caddyfile"}, caddyEnv(t, env), 30*time.Second)
}

// StartCaddy validates caddyfile, then runs it unchanged with env and
// waits until ready accepts connections.
func StartCaddy(t testing.TB, caddyfile string, env []string, ready string) *Caddy {
	t.Helper()
	bin := RequireTool(t, "caddy")
	if out, err := CaddyValidate(t, caddyfile, env); err != nil {
		t.Fatalf("caddy validate --config %s: %v\n%s", caddyfile, err, out)
	}
	p := Start(t, "caddy", caddyEnv(t, env), bin, "run", "--config", caddyfile, "--adapter", "caddyfile")
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ready, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return &Caddy{Proc: p}
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("caddy did not start listening on %s (%v):\n%s", ready, err, Tail(p.Log, 30))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
