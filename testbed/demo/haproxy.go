package demo

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

// DefaultServer is the check part of examples/haproxy/agent-check.cfg's
// default-server line: the demo's haproxy decides exactly as that file does
// (a test compares them). Only addresses and ports differ.
const DefaultServer = `check inter 1s downinter 250ms rise 1 fall 2 agent-check agent-inter 250ms agent-send "primary\n" on-marked-down shutdown-sessions`

// haproxyConfig renders the demo's haproxy.cfg: one frontend per mirror set
// on base+1, base+2, a stats page on base+5, the agent-check example's
// checks against the in-process agents.
func haproxyConfig(m *mirror, socket string) string {
	var b strings.Builder
	hp := func(port int) string { return net.JoinHostPort(m.ip, strconv.Itoa(port)) }
	fmt.Fprintf(&b, `# written by irissim demo; checks as in examples/haproxy/agent-check.cfg
global
    stats socket "%s" mode 600 level admin

defaults
    mode tcp
    timeout connect 500ms
    option redispatch 1
    retries 1
    timeout client 1h
    timeout server 1h
    option httpchk GET /primary
    http-check expect status 200
    default-server %s

listen stats
    mode http
    bind %s
    stats enable
    stats uri /
    stats refresh 1s
`, socket, DefaultServer, hp(m.base+offStats))
	for i, set := range m.sets {
		name := strings.ToLower(set)
		fmt.Fprintf(&b, "\nfrontend %s\n    bind %s\n    default_backend %s\n\nbackend %s\n", name, hp(frontendPort(m.base, i)), name, name)
		for _, n := range m.members(set) {
			_, ss, _ := net.SplitHostPort(n.superServer)
			_, hport, _ := net.SplitHostPort(n.http)
			_, aport, _ := net.SplitHostPort(n.agent)
			fmt.Fprintf(&b, "    server %s %s port %s agent-port %s\n", n.spec.name, net.JoinHostPort(m.ip, ss), hport, aport)
		}
	}
	return b.String()
}

// findHAProxy returns the haproxy binary: PATH first, then the sbin
// directories a non-root PATH lacks (Debian installs it in /usr/sbin).
func findHAProxy() (string, error) {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin", "/opt/homebrew/bin"} {
		p := filepath.Join(dir, "haproxy")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("haproxy is not installed (apt-get install haproxy, or brew install haproxy)")
}

// balancer is the haproxy child process.
type balancer struct {
	bin     string
	version string
	dir     string // config, socket and log
	socket  string
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
}

// startHAProxy validates the config with `haproxy -c`, then runs haproxy in
// the foreground in its own process group, so stop can end it and anything
// it started.
func startHAProxy(bin string, m *mirror) (*balancer, error) {
	dir, err := os.MkdirTemp("", "irissim-demo-")
	if err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	b := &balancer{bin: bin, dir: dir, socket: filepath.Join(dir, "admin.sock"), done: make(chan struct{})}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(m, b.socket)), 0o600); err != nil {
		b.cleanup()
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	if out, err := exec.Command(bin, "-v").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 3 {
			b.version = f[2]
		}
	}
	if out, err := exec.Command(bin, "-c", "-q", "-f", cfg).CombinedOutput(); err != nil {
		b.cleanup()
		return nil, fmt.Errorf("haproxy -c: %v: %s", err, lastLine(string(out)))
	}
	logf, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		b.cleanup()
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	b.cmd = exec.Command(bin, "-db", "-f", cfg)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = childAttr()
	if err := b.cmd.Start(); err != nil {
		logf.Close()
		b.cleanup()
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	go func() {
		b.exitErr = b.cmd.Wait()
		logf.Close()
		close(b.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := haproxyclient.ShowStat(b.socket, time.Second); err == nil {
			if settled(st) || time.Now().After(deadline) {
				return b, nil
			}
		}
		if b.exited() || time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("haproxy did not start: %s", b.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled reports whether every server has had its first agent check:
// haproxy 2.6 starts every server UP until then, so a backup could answer.
func settled(st haproxyclient.ServerStats) bool {
	for _, fields := range st {
		if fields["last_agt"] == "" {
			return false
		}
	}
	return len(st) > 0
}

func (b *balancer) pid() int { return b.cmd.Process.Pid }

func (b *balancer) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// stop ends haproxy's whole process group: SIGTERM, then SIGKILL after 2 s.
func (b *balancer) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		pgid := b.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-b.done
		}
		// Anything left in the group (nothing, normally) goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	b.cleanup()
}

func (b *balancer) cleanup() { os.RemoveAll(b.dir) }

// logTail is the last line haproxy wrote, for the screen.
func (b *balancer) logTail() string {
	f, err := os.Open(filepath.Join(b.dir, "haproxy.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	last := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			last = t
		}
	}
	return last
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
