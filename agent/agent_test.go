package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// settings are serve's settings for an agent beside m, on free ports.
func settings(t *testing.T, m *simulator.Member, extra ...string) *config.Serve {
	t.Helper()
	args := append([]string{
		"--member", m.Name,
		"--mirror-status-url", "http://" + m.WebAddr + "/csp/mirror_status.cxw",
		"--superserver", m.SuperServerAddr,
		"--http-listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0",
		"--interval", "50ms", "--timeout", "200ms", "--shutdown-delay", "0s",
	}, extra...)
	cfg, err := config.LoadServe(args, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startMember(t *testing.T, state simulator.State) *simulator.Member {
	t.Helper()
	m := simulator.NewMember("ap1a", freeAddr(t), freeAddr(t), state)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// run runs a until the test ends and checks that Run returns.
func run(t *testing.T, a *Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
}

func get(url string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestAgentFollowsItsMember: the agent New builds answers on every port
// from its member's role, the gate included, and fails closed first.
func TestAgentFollowsItsMember(t *testing.T) {
	m := startMember(t, simulator.Primary)
	gate := freeAddr(t)
	a, err := New(settings(t, m, "--gate", gate+"="+m.SuperServerAddr), Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if dialOK(gate) {
		t.Fatal("gate open before the agent runs")
	}
	primary := "http://" + a.HTTPAddr() + "/primary"
	if v := a.Snapshot().Verdict(checker.AskPrimary, time.Now()); v.OK {
		t.Fatalf("routable before the first round: %+v", v)
	}
	run(t, a)
	waitFor(t, "routable primary", func() bool { code, _ := get(primary); return code == 200 })
	waitFor(t, "gate open", func() bool { return dialOK(gate) })
	if err := m.SetState(simulator.Backup); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "standby", func() bool { code, _ := get(primary); return code == 503 })
	waitFor(t, "gate closed", func() bool { return !dialOK(gate) })
	code, body := get("http://" + a.HTTPAddr() + "/status")
	if code != 200 || !strings.Contains(body, `"gates"`) || !strings.Contains(body, `"loop"`) {
		t.Fatalf("/status: %d %s", code, body)
	}
	code, body = get("http://" + a.HTTPAddr() + "/metrics")
	for _, name := range []string{"iris_mirror_agent_answer_fresh 1", "iris_mirror_agent_gate_open{gate=", "iris_mirror_agent_log_lines_dropped_total 0"} {
		if code != 200 || !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
}

func TestNewFailsCleanly(t *testing.T) {
	m := startMember(t, simulator.Primary)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = New(settings(t, m, "--agent-listen", taken.Addr().String()), Options{Logger: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "--agent-listen") || errors.As(err, new(*ConfigError)) {
		t.Fatalf("port in use: %v", err)
	}
	cfg := settings(t, m)
	cfg.TLSCertFile, cfg.TLSKeyFile = "/nonexistent/cert.pem", "/nonexistent/key.pem"
	_, err = New(cfg, Options{Logger: zerolog.Nop()})
	if !errors.As(err, new(*ConfigError)) {
		t.Fatalf("bad certificate: %v, want a ConfigError", err)
	}
	// The ports of a failed New are closed again: the same settings start.
	a, err := New(settings(t, m, "--http-listen", cfg.HTTPListen), Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	a.closeListeners()
}
