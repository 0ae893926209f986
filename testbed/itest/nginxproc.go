package itest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NginxProc is a real nginx run by a test in its own prefix directory.
type NginxProc struct {
	Proc   *Proc
	Prefix string
	Conf   string
	bin    string
}

// RunNginx writes conf and files (names relative to the prefix directory;
// texts may say PREFIX for it) and runs nginx in the foreground, after
// `nginx -t`, then waits for ready to accept if set. The config must say
// `pid PREFIX/nginx.pid;` so that ReloadCommand finds the master.
func RunNginx(t testing.TB, conf string, files map[string]string, ready string) *NginxProc {
	t.Helper()
	bin := RequireTool(t, "nginx")
	prefix := t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(prefix, name), []byte(strings.ReplaceAll(text, "PREFIX", prefix)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(conf, "PREFIX", prefix)), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &NginxProc{Prefix: prefix, Conf: path, bin: bin}
	if out, err := Run(n.argv("-t"), nil, 20*time.Second); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	n.Proc = Start(t, "nginx", nil, n.argv("-g", "daemon off;")...)
	if ready != "" {
		WaitTCP(t, ready, 10*time.Second)
	}
	return n
}

func (n *NginxProc) argv(extra ...string) []string {
	return append([]string{n.bin, "-p", n.Prefix, "-c", n.Conf, "-e", "stderr"}, extra...)
}

// ReloadCommand is the command line that reloads this nginx (for a hook's
// NGINX_RELOAD; no argument contains a space).
func (n *NginxProc) ReloadCommand() string { return strings.Join(n.argv("-s", "reload"), " ") }
