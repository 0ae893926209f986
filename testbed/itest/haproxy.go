package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

// HAProxy is a running haproxy with a stats socket the test can query.
type HAProxy struct {
	Proc   *Proc
	Socket string

	bin, cfg, hosts string
	env             []string
	runs            int
}

// StartHAProxy validates cfg with `haproxy -c`, then runs it in the
// foreground with the given hosts file as /etc/hosts (none if empty: the
// examples also take each member's address from the environment, such as
// AP1A_HOST). env is passed to haproxy (the examples read
// HAPROXY_BIND_ADDR, HAPROXY_STATS_SOCKET, member addresses and
// IRIS_MIRROR_AGENT or IRIS_MIRROR_CHECK from it).
func StartHAProxy(t testing.TB, cfg, hostsFile string, env []string) *HAProxy {
	t.Helper()
	h := &HAProxy{bin: RequireTool(t, "haproxy"), cfg: cfg, hosts: hostsFile}
	h.Socket = filepath.Join(t.TempDir(), "admin.sock")
	h.env = append(append([]string(nil), env...), "HAPROXY_STATS_SOCKET="+h.Socket)
	if out, err := Run(h.argv(t, "-c"), h.env, 20*time.Second); err != nil {
		t.Fatalf("haproxy -c -f %s: %v\n%s", cfg, err, out)
	}
	h.launch(t)
	return h
}

// argv is haproxy's command line with extra arguments, in the hosts
// file's mount namespace if there is one.
func (h *HAProxy) argv(t testing.TB, extra ...string) []string {
	argv := append([]string{h.bin, "-f", h.cfg}, extra...)
	if h.hosts != "" {
		return WithHosts(t, h.hosts, argv...)
	}
	return argv
}

// launch runs a new haproxy process in the foreground (-db) with extra
// arguments and waits until it answers on the stats socket.
func (h *HAProxy) launch(t testing.TB, extra ...string) {
	t.Helper()
	h.runs++
	p := Start(t, fmt.Sprintf("haproxy-%d", h.runs), h.env, h.argv(t, append([]string{"-db"}, extra...)...)...)
	h.Proc = p
	want := fmt.Sprintf("Pid: %d\n", p.Cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if info, err := h.Command("show info"); err == nil && strings.Contains(info, want) {
			return
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("haproxy did not start:\n%s", Tail(p.Log, 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Reload replaces haproxy with a new process as `haproxy -sf` (and a
// systemd reload) does: the new one binds beside the old, then tells it to
// stop listening and finish its sessions. With stateFile set, the old
// process's `show servers state` is saved there first, for a
// configuration that reads it (server-state-file). It returns once the new
// process answers on the stats socket.
func (h *HAProxy) Reload(t testing.TB, stateFile string) {
	t.Helper()
	if stateFile != "" {
		state, err := h.Command("show servers state")
		if err != nil {
			t.Fatalf("show servers state: %v", err)
		}
		if err := os.WriteFile(stateFile, []byte(state), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := h.Proc
	h.launch(t, "-sf", strconv.Itoa(old.Cmd.Process.Pid))
}

// Stop ends haproxy at once (a cold start follows with Restart).
func (h *HAProxy) Stop() { h.Proc.Kill() }

// Restart starts haproxy again after Stop: a cold start.
func (h *HAProxy) Restart(t testing.TB) {
	t.Helper()
	h.launch(t)
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
