package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
	"github.com/irismirror/iris-mirror-agent/testbed/syncbuf"
)

// servedAgent is `serve` run in-process beside a simulated member.
type servedAgent struct {
	HTTPAddr, AgentAddr string
	Log                 *syncbuf.Buffer // the agent logs from several goroutines, as to stderr
	cancel              context.CancelFunc
	done                chan int
	stop                sync.Once
	code                int
}

// serveInProcess starts serve for m on free loopback ports with extra
// settings last (they win).
func serveInProcess(t *testing.T, m *simulator.Member, extra ...string) *servedAgent {
	t.Helper()
	a := &servedAgent{HTTPAddr: freeAddr(t), AgentAddr: freeAddr(t), Log: &syncbuf.Buffer{}, done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	args := append([]string{"serve", "--member", m.Name,
		"--mirror-status-url", "http://" + m.WebAddr + "/csp/mirror_status.cxw", "--superserver", m.SuperServerAddr,
		"--http-listen", a.HTTPAddr, "--agent-listen", a.AgentAddr,
		"--interval", "50ms", "--timeout", "200ms", "--log-format", "json"}, extra...)
	go func() { a.done <- run(ctx, args, nil, io.Discard, a.Log) }()
	t.Cleanup(func() { a.Stop() })
	return a
}

// Get asks the agent's HTTP listener.
func (a *servedAgent) Get(path string) (int, string) {
	resp, err := http.Get("http://" + a.HTTPAddr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Stop cancels serve as SIGTERM would and returns its exit code.
func (a *servedAgent) Stop() int {
	a.stop.Do(func() {
		a.cancel()
		a.code = <-a.done
	})
	return a.code
}

// TestServeOperations runs serve in-process with the drain file, the admin
// socket and /metrics, and drives them with the maintenance and poke
// commands as an operator would.
func TestServeOperations(t *testing.T) {
	web, ss := freeAddr(t), freeAddr(t)
	m := simulator.NewMember("ap1a", web, ss, simulator.Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	drain, sock := filepath.Join(dir, "drain"), filepath.Join(dir, "admin.sock")
	a := serveInProcess(t, m, "--agent-listen", "", "--shutdown-delay", "0s", "--drain-file", drain, "--admin-socket", sock)
	get := a.Get
	ctx := context.Background()
	waitFor(t, func() bool { c, _ := get("/primary"); return c == 200 }, "primary 200")
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("admin socket: %v %v (want 0600)", st, err)
	}
	env := []string{"MIRROR_AGENT_ADMIN_SOCKET=" + sock, "MIRROR_AGENT_ADMIN_TIMEOUT=" + patience.String()}

	// Maintenance from the socket.
	if c, out, _ := runCmd(t, ctx, env, "maintenance", "on"); c != ExitOK || !strings.HasPrefix(out, "ok") {
		t.Fatalf("maintenance on: %d %q", c, out)
	}
	if c, body := get("/primary"); c != 503 || body != "not primary: maintenance\n" {
		t.Errorf("/primary in maintenance: %d %q", c, body)
	}
	// The drain file too; turning the socket's off leaves the file's on.
	if err := os.WriteFile(drain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, b := get("/status"); return strings.Contains(b, "drain file") }, "drain file seen")
	if c, out, _ := runCmd(t, ctx, env, "maintenance", "off"); c != ExitOK || !strings.Contains(out, "still in maintenance: drain file") {
		t.Errorf("maintenance off with the file: %d %q", c, out)
	}
	if err := os.Remove(drain); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { c, _ := get("/primary"); return c == 200 }, "back after the drain file went")

	// Poke and status over the socket; metrics count the poke.
	if c, out, _ := runCmd(t, ctx, env, "poke"); c != ExitOK || !strings.HasPrefix(out, "ok") {
		t.Errorf("poke: %d %q", c, out)
	}
	if c, body := get("/metrics"); c != 200 || !strings.Contains(body, "iris_mirror_agent_pokes_total 1") ||
		!strings.Contains(body, `iris_mirror_agent_maintenance 0`) {
		t.Errorf("/metrics: %d\n%s", c, body)
	}
	if c, out, _ := runCmd(t, ctx, env, "maintenance", "status"); c != ExitOK || !strings.Contains(out, "role primary") {
		t.Errorf("maintenance status: %d %q", c, out)
	}

	if code := a.Stop(); code != ExitOK {
		t.Fatalf("exit %d: %s", code, a.Log.String())
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("the admin socket was left behind")
	}
}

func TestAdminCommandErrors(t *testing.T) {
	ctx := context.Background()
	if c, _, errOut := runCmd(t, ctx, nil, "poke"); c != ExitUsage || !strings.Contains(errOut, "--admin-socket") {
		t.Errorf("poke without a socket: %d %q", c, errOut)
	}
	env := []string{"MIRROR_AGENT_ADMIN_SOCKET=" + filepath.Join(t.TempDir(), "none.sock")}
	if c, out, _ := runCmd(t, ctx, env, "poke"); c != ExitFail || !strings.HasPrefix(out, "FAIL") {
		t.Errorf("poke with no agent: %d %q", c, out)
	}
	if c, _, errOut := runCmd(t, ctx, env, "maintenance", "maybe"); c != ExitUsage || !strings.Contains(errOut, "on, off, status") {
		t.Errorf("maintenance maybe: %d %q", c, errOut)
	}
	if c, _, errOut := runCmd(t, ctx, nil, "serve", "--admin-socket-mode", "0666"); c != ExitUsage || !strings.Contains(errOut, "--admin-socket-mode") {
		t.Errorf("world-writable socket mode: %d %q", c, errOut)
	}
}

func TestStatusCommand(t *testing.T) {
	ctx := context.Background()
	agent := func(st httpapi.Status) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/status" {
				http.NotFound(w, r)
				return
			}
			_ = json.NewEncoder(w).Encode(st)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	p := agent(httpapi.Status{Member: "ap1a", Role: "primary", Routable: true, Reason: "mirror_status 200 SUCCESS", Version: "v1",
		Probes: []httpapi.ProbeStatus{{Name: "mirror_status", Healthy: true, LatencyMS: 1.25}, {Name: "superserver", Healthy: false}}})
	b := agent(httpapi.Status{Member: "ap1b", Role: "standby", Mirror: "backup", Reason: "mirror_status 503 FAILED", Version: "v1"})
	notAgent := agentServer(t, 404, "nope")
	code, out, _ := runCmd(t, ctx, nil, "status", "--timeout", patience.String(), p, b+"/status")
	if code != ExitOK || !strings.Contains(out, "| ap1a   | primary          | yes ") || !strings.Contains(out, "standby (backup)") ||
		!strings.Contains(out, "mirror_status 1.2ms, superserver FAIL") || !strings.Contains(out, "1 routable primary: ap1a") {
		t.Errorf("status: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, ctx, nil, "status", "--timeout", patience.String(), b, notAgent, "http://"+freeAddr(t))
	if code != ExitFail || !strings.Contains(out, "NO routable primary; 2 agent(s) unreachable") || !strings.Contains(out, "404") {
		t.Errorf("no primary: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, ctx, nil, "status", "--timeout", patience.String(), "--json", p, p)
	var rep struct {
		RoutablePrimaries []string `json:"routable_primaries"`
		ExactlyOne        bool     `json:"exactly_one_primary"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitFail || len(rep.RoutablePrimaries) != 2 || rep.ExactlyOne {
		t.Errorf("two primaries --json: %d %v\n%s", code, err, out)
	}
	// --watch refreshes until the context ends; interrupted, it exits
	// with the last whole table's code (a refresh cut by the interrupt
	// would show every agent unreachable). The context ends once two
	// tables are out, however long the machine takes to draw them.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var watchOut syncbuf.Buffer
	go func() {
		for wctx.Err() == nil && strings.Count(watchOut.String(), "1 routable primary") < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	code = run(wctx, []string{"status", "--timeout", patience.String(), "--watch", "--interval", "100ms", p}, nil, &watchOut, io.Discard)
	if out, n := watchOut.String(), strings.Count(watchOut.String(), "1 routable primary"); code != ExitOK || n < 2 || strings.Contains(out, "unreachable") {
		t.Errorf("--watch: exit %d, %d tables\n%s", code, n, out)
	}
	if c, _, errOut := runCmd(t, ctx, nil, "status", "ftp://x"); c != ExitUsage || !strings.Contains(errOut, "agent URL") {
		t.Errorf("bad URL: %d %q", c, errOut)
	}
}
