package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

// HAProxy is a running haproxy with a stats socket the test can query.
type HAProxy struct {
	Proc   *Proc
	Socket string
}

// StartHAProxy validates cfg with `haproxy -c`, then runs it in the
// foreground with the given hosts file as /etc/hosts. env is passed to
// haproxy (the examples read HAPROXY_BIND_ADDR, HAPROXY_STATS_SOCKET and
// IRIS_MIRROR_AGENT or IRIS_MIRROR_CHECK from it).
func StartHAProxy(t testing.TB, cfg, hostsFile string, env []string) *HAProxy {
	t.Helper()
	bin := RequireTool(t, "haproxy")
	sock := filepath.Join(t.TempDir(), "admin.sock")
	env = append(env, "HAPROXY_STATS_SOCKET="+sock)
	if out, err := Run(WithHosts(t, hostsFile, bin, "-c", "-f", cfg), env, 20*time.Second); err != nil {
		t.Fatalf("haproxy -c -f %s: %v\n%s", cfg, err, out)
	}
	p := Start(t, "haproxy", env, WithHosts(t, hostsFile, bin, "-db", "-f", cfg)...)
	h := &HAProxy{Proc: p, Socket: sock}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.Command("show info"); err == nil {
			return h
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("haproxy did not start:\n%s", Tail(p.Log, 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Command sends one command to the stats socket and returns the answer.
func (h *HAProxy) Command(cmd string) (string, error) {
	return haproxyclient.StatsCommand(h.Socket, cmd, 2*time.Second)
}

// ServerStat returns `show stat` fields for backend/server, such as
// "status", "last_agt", "check_status".
func (h *HAProxy) ServerStat(backend, server string) (map[string]string, error) {
	st, err := haproxyclient.ShowStat(h.Socket, 2*time.Second)
	if err != nil {
		return nil, err
	}
	m, ok := st[backend+"/"+server]
	if !ok {
		return nil, fmt.Errorf("no server %s/%s in stats", backend, server)
	}
	return m, nil
}

// WaitServer waits until backend/server's status starts with want (UP,
// DOWN, MAINT...) and returns the stats row.
func (h *HAProxy) WaitServer(t testing.TB, backend, server, want string, d time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(d)
	var last map[string]string
	for {
		st, err := h.ServerStat(backend, server)
		if err == nil && strings.HasPrefix(st["status"], want) {
			return st
		}
		last = st
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s not %s within %v: %v (%v)", backend, server, want, d, last, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Example returns the path of a file under examples/, failing if absent.
func Example(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Root(t), "examples", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("example %s: %v", rel, err)
	}
	return p
}
