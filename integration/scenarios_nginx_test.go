package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/internal/itest"
)

// The nginx half of the reference scenarios: nginx, the seed's front door,
// with examples/nginx/http-gate.conf unchanged (:80, /ap1/ to ap1a:52774
// and ap1b:52774, /ap2/ likewise), in front of each member's web gate: the
// agent's --gate MEMBER:52774=MEMBER:52773, open only while the member is
// the routable primary (issue 3). Clients call the seed's REST path and
// read the member's name from the JSON.

func nginxDoor() frontDoor {
	return frontDoor{
		name: "nginx with the agents' gates (examples/nginx/http-gate.conf)",
		agentFlags: func(m *itest.Member) []string {
			return append(append([]string(nil), fastAgent...),
				"--gate", m.IP+":52774="+m.WebAddr(),
				"--gate", m.IP+":1973="+m.SuperServerAddr())
		},
		start: func(t *testing.T, l *layout) (askFunc, askFunc) {
			startNginxExample(t, itest.Example(t, "nginx/http-gate.conf"), l.hosts, l.front+":80")
			return httpAsk("http://" + l.front + "/ap1/csp/mirrorns/api/get"),
				httpAsk("http://" + l.front + "/ap2/csp/mirrorns/api/get")
		},
	}
}

func TestReferenceScenariosNginx(t *testing.T) {
	requireGateExample(t)
	itest.RequireTool(t, "nginx")
	runReferenceScenarios(t, nginxDoor())
}

// requireGateExample: the nginx half needs the gate and its example, which
// arrive with issue 3. Until that is merged the test says so: skipped
// outside CI, failed under CI (CI must run both halves).
func requireGateExample(t *testing.T) {
	t.Helper()
	p := filepath.Join(itest.Root(t), "examples", "nginx", "http-gate.conf")
	if _, err := os.Stat(p); err == nil {
		return
	}
	msg := "examples/nginx/http-gate.conf is missing: the nginx gate (issue 3) is not merged on this branch, so the nginx half of the reference scenarios cannot run"
	if itest.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// httpAsk GETs the seed's REST path through nginx and returns the
// member named in the answer; anything but a 200 is an error.
func httpAsk(url string) askFunc {
	client := &http.Client{Timeout: clientTimeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	return func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		var doc struct{ HostName string }
		if err := json.Unmarshal(b, &doc); err != nil || doc.HostName == "" {
			return "", fmt.Errorf("not the application's answer: %.80q", b)
		}
		return doc.HostName, nil
	}
}

var httpBlock = regexp.MustCompile(`(?m)^\s*http\s*\{`)

// startNginxExample runs nginx with an example file as is, with hosts as
// /etc/hosts, and waits for listen. A file holding an http block is a
// whole nginx.conf; otherwise it is a conf.d file, included from a minimal
// nginx.conf as Debian's does.
func startNginxExample(t *testing.T, conf, hosts, listen string) {
	t.Helper()
	bin := itest.RequireTool(t, "nginx")
	dir := t.TempDir()
	main := conf
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if !httpBlock.Match(b) {
		main = filepath.Join(dir, "nginx.conf")
		wrapper := "events {}\nhttp {\n    access_log off;\n    include " + conf + ";\n}\n"
		if err := os.WriteFile(main, []byte(wrapper), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	globals := "daemon off; pid " + filepath.Join(dir, "nginx.pid") + "; error_log stderr notice;"
	args := []string{bin, "-p", dir, "-c", main, "-g", globals}
	if out, err := itest.Run(itest.WithHosts(t, hosts, append(args, "-t")...), nil, 20*time.Second); err != nil {
		t.Fatalf("nginx -t with %s: %v\n%s", conf, err, out)
	}
	itest.Start(t, "nginx", nil, itest.WithHosts(t, hosts, args...)...)
	itest.WaitTCP(t, listen, 10*time.Second)
}
