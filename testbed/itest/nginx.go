package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NginxStreamModule is where Debian's libnginx-mod-stream puts the module
// examples/nginx/stream-gate.conf loads.
const NginxStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"

// Nginx is a running nginx.
type Nginx struct {
	Proc     *Proc
	ErrorLog string
}

// RequireNginxStream fails under CI, and skips elsewhere, when the stream
// module is not installed.
func RequireNginxStream(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(NginxStreamModule); err == nil {
		return
	}
	if InCI() {
		t.Fatalf("%s is missing: CI must install libnginx-mod-stream (see .ci/run)", NginxStreamModule)
	}
	t.Skipf("%s is missing (apt-get install libnginx-mod-stream); skipped outside CI", NginxStreamModule)
}

// StartNginx validates conf with `nginx -t`, then runs it in the
// foreground, unchanged, with hostsFile as /etc/hosts. The pid file and the
// error log go to a temporary directory (-g, -e), so the file needs no
// test-only directive. The examples listen on all addresses (port 80, or
// the stream ports), which one machine can bind only once: nginx runs are
// serialised across test processes with a file lock held until the test
// ends.
func StartNginx(t testing.TB, conf, hostsFile string) *Nginx {
	t.Helper()
	lockNginx(t)
	return startNginx(t, conf, hostsFile)
}

var nginxListen = regexp.MustCompile(`(?m)^(\s*listen\s+)(\d+)(\s*;)`)

// StartNginxOn runs conf as StartNginx does, from a copy in which each
// "listen PORT;" becomes "listen IP:PORT+shift;": nothing else binds
// there, so a long run (a soak) holds no machine-wide lock. Only the
// listen lines differ from conf.
func StartNginxOn(t testing.TB, conf, hostsFile, ip string, shift int) *Nginx {
	t.Helper()
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	moved := nginxListen.ReplaceAllStringFunc(string(b), func(m string) string {
		p := nginxListen.FindStringSubmatch(m)
		n, _ := strconv.Atoi(p[2])
		return fmt.Sprintf("%s%s:%d%s", p[1], ip, n+shift, p[3])
	})
	if moved == string(b) {
		t.Fatalf("%s: no listen PORT; line to move", conf)
	}
	copyPath := filepath.Join(t.TempDir(), filepath.Base(conf))
	if err := os.WriteFile(copyPath, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	return startNginx(t, copyPath, hostsFile)
}

// Reload has the nginx master re-read its configuration (SIGHUP, what
// nginx -s reload and systemctl reload send): new workers start, the old
// ones finish their sessions.
func (n *Nginx) Reload() error { return n.Proc.Signal(syscall.SIGHUP) }

func startNginx(t testing.TB, conf, hostsFile string) *Nginx {
	t.Helper()
	bin := RequireTool(t, "nginx")
	if b, err := os.ReadFile(conf); err == nil && strings.Contains(string(b), "ngx_stream_module") {
		RequireNginxStream(t)
	}
	dir := t.TempDir()
	errLog := filepath.Join(dir, "error.log")
	pid := filepath.Join(dir, "nginx.pid")
	global := fmt.Sprintf("pid %s; error_log %s notice;", pid, errLog)
	if out, err := Run(WithHosts(t, hostsFile, bin, "-t", "-e", errLog, "-c", conf, "-g", global), nil, 20*time.Second); err != nil {
		t.Fatalf("nginx -t -c %s: %v\n%s\n%s", conf, err, out, Tail(errLog, 20))
	}
	p := Start(t, "nginx", nil, WithHosts(t, hostsFile, bin, "-e", errLog, "-c", conf, "-g", global+" daemon off;")...)
	n := &Nginx{Proc: p, ErrorLog: errLog}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("---- nginx error log (tail) ----\n%s", Tail(errLog, 40))
		}
	})
	// nginx writes its pid file once every listening socket is bound.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(pid); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return n
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("nginx did not start:\n%s\n%s", Tail(p.Log, 20), Tail(errLog, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockNginx takes the machine-wide nginx lock until the test ends.
func lockNginx(t testing.TB) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "iris-mirror-agent-nginx.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("nginx lock: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("nginx lock %s: %v (another test runs nginx)", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Registered before nginx starts, so it runs after nginx is killed.
	t.Cleanup(func() { f.Close() })
}

var askClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// HTTPAsk asks a balancer for the simulated application at url: the
// member that answered (the JSON HostName), or an error carrying the
// status ("HTTP 502") when the balancer answered with an error. A request
// ends on its own timeout only: stopping a Sampler does not cut the
// requests in flight (their outcome is what is measured).
func HTTPAsk(url string, timeout time.Duration) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := askClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		var doc struct{ HostName string }
		if err := json.Unmarshal(body, &doc); err != nil || doc.HostName == "" {
			return "", fmt.Errorf("not the application's answer: %.80q", body)
		}
		return doc.HostName, nil
	}
}
