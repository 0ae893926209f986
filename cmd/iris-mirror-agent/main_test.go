package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// runCmd runs the CLI in-process with its own stdout, stderr and env.
func runCmd(t *testing.T, ctx context.Context, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, environ, &out, &errb)
	return code, out.String(), errb.String()
}

func agentServer(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestTopLevel(t *testing.T) {
	ctx := context.Background()
	if code, out, _ := runCmd(t, ctx, nil, "version"); code != ExitOK || !strings.HasPrefix(out, "iris-mirror-agent ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errOut := runCmd(t, ctx, nil, "frobnicate"); code != ExitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	if code, _, _ := runCmd(t, ctx, nil); code != ExitUsage {
		t.Errorf("no command: %d", code)
	}
	if code, out, _ := runCmd(t, ctx, nil, "--help"); code != ExitOK || !strings.Contains(out, "healthcheck") {
		t.Errorf("help: %d %q", code, out)
	}
}

func TestServeBadSettingsExitBeforeListening(t *testing.T) {
	ctx := context.Background()
	code, out, errOut := runCmd(t, ctx, nil, "serve", "--interval", "soon")
	if code != ExitUsage || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "--interval") {
		t.Fatalf("bad flag: %d %q %q", code, out, errOut)
	}
	code, _, errOut = runCmd(t, ctx, []string{"MIRROR_AGENT_TIMEOUT=0s"}, "serve")
	if code != ExitUsage || !strings.Contains(errOut, "--timeout") {
		t.Fatalf("bad env: %d %q", code, errOut)
	}
	// A port in use is a runtime error, reported once, before serving.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errOut = runCmd(t, ctx, nil, "serve", "--http-listen", ln.Addr().String(), "--agent-listen", freeAddr(t))
	if code != ExitRuntime || !strings.Contains(errOut, "--http-listen") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("port in use: %d %q", code, errOut)
	}
}

func TestCheckAgentMode(t *testing.T) {
	ctx := context.Background()
	ok := agentServer(t, 200, "primary\n")
	code, out, _ := runCmd(t, ctx, nil, "check", "--timeout", patience.String(), "--url", ok+"/primary")
	if code != ExitOK || !strings.HasPrefix(out, "OK ") || !strings.Contains(out, "200 primary") {
		t.Errorf("200: %d %q", code, out)
	}
	no := agentServer(t, 503, "not primary: role standby: mirror_status 503 FAILED\n")
	code, out, _ = runCmd(t, ctx, nil, "check", "--timeout", patience.String(), "--url", no+"/primary")
	if code != ExitFail || !strings.HasPrefix(out, "FAIL ") || !strings.Contains(out, "role standby") {
		t.Errorf("503: %d %q", code, out)
	}
	code, out, _ = runCmd(t, ctx, nil, "check", "--url", "http://"+freeAddr(t)+"/primary", "--timeout", patience.String())
	if code != ExitFail || !strings.Contains(out, "refused") {
		t.Errorf("unreachable: %d %q", code, out)
	}
	code, _, errOut := runCmd(t, ctx, nil, "check", "--timeout", "-1s")
	if code != ExitUsage || !strings.Contains(errOut, "--timeout") {
		t.Errorf("bad timeout: %d %q", code, errOut)
	}
}

func TestCheckDirectMode(t *testing.T) {
	ctx := context.Background()
	web, ss := freeAddr(t), freeAddr(t)
	m := simulator.NewMember("ap1a", web, ss, simulator.Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	url := "http://" + web + "/csp/mirror_status.cxw"
	code, out, _ := runCmd(t, ctx, nil, "check", "--timeout", patience.String(), "--mirror-status-url", url, "--superserver", ss)
	if code != ExitOK || !strings.Contains(out, "SUCCESS") {
		t.Errorf("primary: %d %q", code, out)
	}
	_ = m.SetState(simulator.Backup)
	code, out, _ = runCmd(t, ctx, nil, "check", "--timeout", patience.String(), "--mirror-status-url", url, "--superserver", ss)
	if code != ExitFail || !strings.Contains(out, "503") {
		t.Errorf("backup: %d %q", code, out)
	}
	_ = m.SetState(simulator.Hang)
	// A hang ends at the check's deadline, not at a later one of its own:
	// ten deadlines tell the two apart on a busy machine.
	const hangTimeout = 300 * time.Millisecond
	start := time.Now()
	code, out, _ = runCmd(t, ctx, nil, "check", "--mirror-status-url", url, "--superserver", "", "--timeout", hangTimeout.String())
	if code != ExitFail || !strings.Contains(out, "timeout") || time.Since(start) > 10*hangTimeout {
		t.Errorf("hang: %d %q after %v", code, out, time.Since(start))
	}
}

func TestHealthcheckNeverExits2(t *testing.T) {
	ctx := context.Background()
	live := agentServer(t, 200, "live\n")
	code, out, _ := runCmd(t, ctx, nil, "healthcheck", "--timeout", patience.String(), "--url", live)
	if code != ExitOK || !strings.HasPrefix(out, "healthy") {
		t.Errorf("live: %d %q", code, out)
	}
	dead := agentServer(t, 503, "not live\n")
	if code, _, _ := runCmd(t, ctx, nil, "healthcheck", "--timeout", patience.String(), "--url", dead); code != ExitFail {
		t.Errorf("503: %d", code)
	}
	for _, args := range [][]string{
		{"healthcheck", "--endpoint", "nope"},
		{"healthcheck", "--timeout", "x"},
		{"healthcheck", "--bogus"},
		{"healthcheck", "--url", "http://" + freeAddr(t)},
	} {
		if code, _, _ := runCmd(t, ctx, nil, args...); code != ExitFail {
			t.Errorf("%v: exit %d, want 1 (Docker reserves 2)", args, code)
		}
	}
}

// TestServeEndToEnd runs serve in-process against a simulated member,
// reads every output, then stops it as SIGTERM would.
func TestServeEndToEnd(t *testing.T) {
	web, ss := freeAddr(t), freeAddr(t)
	m := simulator.NewMember("ap1a", web, ss, simulator.Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := serveInProcess(t, m, "--shutdown-delay", "300ms")
	get, agentAddr := a.Get, a.AgentAddr
	waitFor(t, func() bool { c, _ := get("/primary"); return c == 200 }, "primary 200")
	if c, _ := get("/standby"); c != 503 {
		t.Errorf("/standby %d", c)
	}
	if c, body := get("/status"); c != 200 || !strings.Contains(body, `"role": "primary"`) {
		t.Errorf("/status %d %s", c, body)
	}
	if line, err := readAgent(agentAddr, ""); err != nil || line != "up ready 100%\n" {
		t.Errorf("agent-check %q %v", line, err)
	}
	_ = m.SetState(simulator.Backup)
	waitFor(t, func() bool { c, _ := get("/primary"); return c == 503 }, "primary 503 after demotion")
	// readAgent sends with the handshake, as haproxy does, so the word is
	// read on the first try.
	if line, err := readAgent(agentAddr, "standby\n"); line != "up ready 100%\n" {
		t.Errorf("standby via agent-send: %q %v", line, err)
	}
	_ = m.SetState(simulator.Primary)
	waitFor(t, func() bool { c, _ := get("/primary"); return c == 200 }, "primary again")

	stopped := make(chan int, 1)
	go func() { stopped <- a.Stop() }() // as SIGTERM
	waitFor(t, func() bool {
		line, _ := readAgent(agentAddr, "")
		return line == "down ready #shutting down\n"
	}, "down ready #shutting down during the drain")
	if c, body := get("/primary"); c != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("during drain: %d %q", c, body)
	}
	if code := <-stopped; code != ExitOK {
		t.Fatalf("exit %d: %s", code, a.Log.String())
	}
	if !strings.Contains(a.Log.String(), `"message":"role changed"`) {
		t.Errorf("no role change logged:\n%s", a.Log.String())
	}
	if n := strings.Count(a.Log.String(), "\n"); n > 20 {
		t.Errorf("%d log lines for a few role changes: too chatty", n)
	}
}

// readAgent asks the agent-check port like haproxy does (the agent-send
// line rides on the handshake).
func readAgent(addr, send string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return haproxyclient.Ask(ctx, addr, send)
}

// patience bounds what a test waits for without timing it: an answer, a
// state the agent is sure to reach. Far beyond a busy machine's delays;
// every wait ends as soon as its thing happens.
const patience = time.Minute

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExternalCheckInvocation runs the built binary exactly as haproxy
// does: four arguments, an environment holding only HAPROXY_* and PATH,
// and stdin, stdout and stderr closed.
func TestExternalCheckInvocation(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "iris-mirror-agent")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// The agent answers on <server_addr>:9797, so the server gets its own
	// loopback address.
	ip := fmt.Sprintf("127.%d.%d.%d", 64+rand.IntN(190), rand.IntN(250), 1+rand.IntN(250))
	state := "200"
	var mu sync.Mutex
	ln, err := net.Listen("tcp", ip+":9797")
	if err != nil {
		t.Fatalf("cannot listen on %s:9797: %v", ip, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/primary" || state != "200" {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "primary\n")
	})}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	exitOf := func() int {
		cmd := exec.Command("/bin/sh", "-c", `exec "$0" "$@" <&- >&- 2>&-`, bin, "NOT_USED", "NOT_USED", ip, "1972")
		cmd.Env = []string{
			"HAPROXY_PROXY_ADDR=", "HAPROXY_PROXY_ID=3", "HAPROXY_PROXY_NAME=ap1", "HAPROXY_PROXY_PORT=",
			"HAPROXY_SERVER_ADDR=" + ip, "HAPROXY_SERVER_CURCONN=0", "HAPROXY_SERVER_ID=1",
			"HAPROXY_SERVER_MAXCONN=0", "HAPROXY_SERVER_NAME=ap1a", "HAPROXY_SERVER_PORT=1972",
			"PATH=/usr/bin:/bin",
		}
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if c := exitOf(); c != 0 {
		t.Fatalf("primary: exit %d, want 0", c)
	}
	mu.Lock()
	state = "503"
	mu.Unlock()
	if c := exitOf(); c != 1 {
		t.Fatalf("not primary: exit %d, want 1", c)
	}
	srv.Close()
	start := time.Now()
	if c := exitOf(); c != 1 {
		t.Fatalf("agent gone: exit %d, want 1", c)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("agent gone: took %v", d)
	}
}
