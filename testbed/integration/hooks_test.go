package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// askApp GETs the application through a balancer and returns the member
// that answered (empty and the status otherwise).
func askApp(url string) (string, int) {
	code, body, err := itest.HTTPGet(url, time.Second)
	if err != nil || code != 200 {
		return "", code
	}
	var doc struct{ HostName string }
	if json.Unmarshal([]byte(body), &doc) != nil {
		return "", code
	}
	return doc.HostName, code
}

func waitApp(t *testing.T, url, want string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		got, code := askApp(url)
		if got == want {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not answered by %q within %v: last %q %d", url, want, d, got, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNginxUpstreamHook runs examples/hooks/nginx-upstream.sh unchanged
// from both agents of a mirror set against a real nginx: the upstream
// follows the primary through a planned switch and a total outage.
func TestNginxUpstreamHook(t *testing.T) {
	l := itest.NewLoopback(t)
	front := l.IP(100) + ":8080"
	n := itest.RunNginx(t, `
worker_processes 1;
user root;
pid PREFIX/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path PREFIX/tmp/body;
    proxy_temp_path PREFIX/tmp/proxy;
    fastcgi_temp_path PREFIX/tmp/fastcgi;
    uwsgi_temp_path PREFIX/tmp/uwsgi;
    scgi_temp_path PREFIX/tmp/scgi;
    upstream iris { include PREFIX/iris-primary.conf; }
    server {
        listen `+front+`;
        location / { proxy_pass http://iris; proxy_connect_timeout 1s; }
    }
}
`, map[string]string{
		// Before any agent speaks nobody is primary: nginx answers 502 at once.
		"iris-primary.conf": "server 127.0.0.1:9 down;\n",
	}, front)
	upstream := filepath.Join(n.Prefix, "iris-primary.conf")
	hook := itest.Example(t, "hooks/nginx-upstream.sh")
	ap1a := itest.StartMember(t, "ap1a", l.IP(1), "primary")
	ap1b := itest.StartMember(t, "ap1b", l.IP(2), "backup")
	agents := map[string]*itest.Agent{}
	for _, m := range []*itest.Member{ap1a, ap1b} {
		agents[m.Name] = itest.StartAgentEnv(t, m, []string{
			"NGINX_UPSTREAM_FILE=" + upstream,
			"NGINX_SERVER=" + m.WebAddr(),
			"NGINX_RELOAD=" + n.ReloadCommand(),
		}, "--on-change", hook, "--interval", "250ms", "--timeout", "500ms")
	}
	app := "http://" + front + "/ap1/csp/mirrorns/api/get"
	d := waitApp(t, app, "ap1a", 10*time.Second)
	t.Logf("agent start to nginx routing to ap1a: %v", d.Round(time.Millisecond))

	// Planned switch.
	t0 := time.Now()
	ap1a.Set(t, "backup")
	ap1b.Set(t, "primary")
	waitApp(t, app, "ap1b", 10*time.Second)
	t.Logf("planned switch to nginx routing to ap1b: %v", time.Since(t0).Round(time.Millisecond))
	if b := mustRead(t, upstream); strings.TrimSpace(b) != "server "+ap1b.WebAddr()+";" {
		t.Errorf("upstream file %q", b)
	}

	// No primary at all: the file falls back to the down placeholder and
	// nginx fails fast (502) instead of sending to a backup.
	ap1b.Set(t, "backup")
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		got, code := askApp(app)
		if code == 502 && got == "" {
			if took := time.Since(start); took > 500*time.Millisecond {
				t.Errorf("502 took %v: it must be immediate", took)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no primary, still answered %q %d", got, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ap1a.Set(t, "primary")
	waitApp(t, app, "ap1a", 10*time.Second)

	// Hook runs are counted in the agent's metrics and logged with output.
	// The run that reloaded nginx is counted once the script has exited,
	// a moment after nginx routes to ap1a.
	var ok float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		fams := scrapeMetrics(t, "http://"+agents["ap1a"].HTTPAddr()+"/metrics")
		if ok = sample(fams, "iris_mirror_agent_hook_runs_total", map[string]string{"result": "ok"}); ok >= 3 || time.Now().After(deadline) {
			break
		}
	}
	if ok < 3 {
		t.Errorf("ap1a hook runs ok = %v, want at least 3", ok)
	}
	if !strings.Contains(mustRead(t, agents["ap1a"].Proc.Log), "upstream now: server "+ap1a.WebAddr()) {
		t.Error("the hook's output is not in the agent's log")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKubernetesLabelHook runs examples/hooks/k8s-pod-label.sh with a fake
// kubectl on PATH that records its arguments.
func TestKubernetesLabelHook(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(t.TempDir(), "kubectl.calls")
	fake := "#!/bin/sh\necho \"$*\" >> " + calls + "\n"
	if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "iris-0", l.IP(1), "primary")
	drain := filepath.Join(t.TempDir(), "drain")
	itest.StartAgentEnv(t, m, []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "POD_NAME=iris-0", "POD_NAMESPACE=db"},
		"--on-change", itest.Example(t, "hooks/k8s-pod-label.sh"), "--interval", "250ms", "--drain-file", drain)
	want := func(lines ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(calls)
			got := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(b) > 0 && len(got) >= len(lines) {
				if strings.Join(got, "\n") != strings.Join(lines, "\n") {
					t.Fatalf("kubectl calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(lines, "\n"))
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("kubectl calls %q, want %d", b, len(lines))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	const pre = "label pod iris-0 --namespace db --overwrite "
	primary := pre + "iris-mirror-agent/role=primary iris-mirror-agent/routable=true iris-mirror-agent/maintenance=false"
	want(primary)
	m.Set(t, "backup")
	standby := pre + "iris-mirror-agent/role=standby iris-mirror-agent/routable=false iris-mirror-agent/maintenance=false"
	want(primary, standby)
	m.Set(t, "primary")
	if err := os.WriteFile(drain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Whether the hook saw the primary before the drain file depends on
	// timing; the last call must say maintenance.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(calls)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if last := lines[len(lines)-1]; last == pre+"iris-mirror-agent/role=primary iris-mirror-agent/routable=false iris-mirror-agent/maintenance=true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no maintenance label: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
