package itest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

// NetPair is two network namespaces the test creates, joined by a veth
// pair: the agent's side and the member's side. Both ends are addressed in
// 127.200.0.0/30 (route_localnet), so no address outside the loopback
// range is used, and nothing leaves the pair. Deleted when the test ends,
// whatever its outcome.
type NetPair struct {
	Agent, Member     string // namespace names
	AgentIP, MemberIP string
	agentIf, memberIf string
}

// RequireNetns creates a NetPair, or skips the test with the reason when
// this host cannot (not root, no ip tool, namespaces refused). Under CI it
// fails instead of skipping.
func RequireNetns(t testing.TB) *NetPair {
	t.Helper()
	RequireRoot(t, "network namespaces")
	ipTool := RequireTool(t, "ip")
	id := fmt.Sprintf("%06x", rand.IntN(1<<24))
	p := &NetPair{Agent: "ima" + id, Member: "imm" + id, AgentIP: "127.200.0.1", MemberIP: "127.200.0.2",
		agentIf: "va" + id, memberIf: "vm" + id}
	run := func(args ...string) error {
		out, err := exec.Command(ipTool, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("netns", "add", p.Agent); err != nil {
		if InCI() {
			t.Fatalf("network namespaces unavailable under CI: %v", err)
		}
		t.Skipf("network namespaces unavailable here: %v", err)
	}
	t.Cleanup(func() { _ = run("netns", "del", p.Agent) })
	if err := run("netns", "add", p.Member); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run("netns", "del", p.Member) }) // takes the veth pair with it
	steps := [][]string{
		{"link", "add", p.agentIf, "netns", p.Agent, "type", "veth", "peer", "name", p.memberIf, "netns", p.Member},
		{"-n", p.Agent, "link", "set", "lo", "up"},
		{"-n", p.Member, "link", "set", "lo", "up"},
		{"-n", p.Agent, "link", "set", p.agentIf, "up"},
		{"-n", p.Member, "link", "set", p.memberIf, "up"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			t.Fatal(err)
		}
	}
	for ns, ifc := range map[string]string{p.Agent: p.agentIf, p.Member: p.memberIf} {
		// 127.x on a veth needs route_localnet, or the kernel drops it.
		if err := run("netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf."+ifc+".route_localnet=1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range [][]string{
		{"-n", p.Agent, "addr", "add", p.AgentIP + "/30", "dev", p.agentIf},
		{"-n", p.Member, "addr", "add", p.MemberIP + "/30", "dev", p.memberIf},
	} {
		if err := run(s...); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// AddIPv6 gives both ends of the pair an IPv6 address too (fd69::1 on
// the agent's side, fd69::2 on the member's, a unique local prefix that
// exists only inside the pair) and returns them.
func (p *NetPair) AddIPv6(t testing.TB) (agentIP, memberIP string) {
	t.Helper()
	for _, s := range [][]string{
		{"-n", p.Agent, "addr", "add", "fd69::1/64", "dev", p.agentIf, "nodad"},
		{"-n", p.Member, "addr", "add", "fd69::2/64", "dev", p.memberIf, "nodad"},
	} {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return "fd69::1", "fd69::2"
}

// Exec wraps argv to run inside namespace ns.
func (p *NetPair) Exec(ns string, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// Cut drops every packet in and out of the member's namespace (not its
// loopback): the link is cut, connections time out rather than being
// refused. Restore undoes it.
func (p *NetPair) Cut(t testing.TB) {
	t.Helper()
	nft := RequireTool(t, "nft")
	cmd := exec.Command("ip", "netns", "exec", p.Member, nft, "-f", "-")
	cmd.Stdin = strings.NewReader(`table inet linkcut {
  chain in { type filter hook input priority 0; policy drop; iifname "lo" accept; }
  chain out { type filter hook output priority 0; policy drop; oifname "lo" accept; }
}`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
}

// Restore removes the cut.
func (p *NetPair) Restore(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", p.Member, "nft", "delete", "table", "inet", "linkcut").CombinedOutput(); err != nil {
		t.Fatalf("nft delete: %v: %s", err, out)
	}
}

// Netem sets (d > 0) or clears (d == 0) a tc netem delay of d on both
// ends of the link. It returns false when the kernel has no netem.
func (p *NetPair) Netem(t testing.TB, d time.Duration) bool {
	t.Helper()
	for ns, ifc := range map[string]string{p.Agent: p.agentIf, p.Member: p.memberIf} {
		args := []string{"netns", "exec", ns, "tc", "qdisc", "replace", "dev", ifc, "root", "netem", "delay", fmt.Sprintf("%dms", d.Milliseconds())}
		if d == 0 {
			args = []string{"netns", "exec", ns, "tc", "qdisc", "del", "dev", ifc, "root"}
		}
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "qdisc kind is unknown") {
				return false
			}
			if d != 0 {
				t.Fatalf("tc: %v: %s", err, out)
			}
		}
	}
	return true
}

// Netns runs socket calls inside a network namespace: one goroutine,
// locked to an OS thread that entered the namespace, creates every socket
// (a socket belongs to the namespace it was created in, whatever thread
// uses it later).
type Netns struct {
	calls chan func()
	done  chan struct{}
}

// EnterNetns starts the namespace's goroutine; it ends with the test.
func EnterNetns(t testing.TB, name string) *Netns {
	t.Helper()
	n := &Netns{calls: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, now in another namespace, exits
		// with this goroutine instead of going back to the pool.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + name)
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
			f.Close()
		}
		errc <- err
		if err != nil {
			return
		}
		for {
			select {
			case call := <-n.calls:
				call()
			case <-n.done:
				return
			}
		}
	}()
	if err := <-errc; err != nil {
		t.Fatalf("enter netns %s: %v", name, err)
	}
	t.Cleanup(func() { close(n.done) })
	return n
}

// errNetnsClosed is returned once the test has ended.
var errNetnsClosed = errors.New("netns: test ended")

// do runs call on the namespace's thread.
func (n *Netns) do(call func()) error {
	finished := make(chan struct{})
	select {
	case n.calls <- func() { call(); close(finished) }:
		<-finished
		return nil
	case <-n.done:
		return errNetnsClosed
	}
}

// DialContext dials from inside the namespace, the way haproxy dials.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	var err error
	d := &net.Dialer{Control: haproxyclient.DelayHandshakeACK} // as haproxy dials
	if derr := n.do(func() { c, err = d.DialContext(ctx, network, addr) }); derr != nil {
		return nil, derr
	}
	return c, err
}

// DialWith dials from inside the namespace with d (nil: a plain dialer).
func (n *Netns) DialWith(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	var c net.Conn
	var err error
	if derr := n.do(func() { c, err = d.DialContext(ctx, network, addr) }); derr != nil {
		return nil, derr
	}
	return c, err
}

// Listen listens inside the namespace.
func (n *Netns) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	var err error
	if derr := n.do(func() { ln, err = net.Listen(network, addr) }); derr != nil {
		return nil, derr
	}
	return ln, err
}

// DelayRelay forwards TCP connections from a listener to a target,
// holding every chunk of data for Delay in each direction: added latency
// where the kernel has no netem. The TCP handshake itself is not delayed.
type DelayRelay struct {
	mu    sync.Mutex
	delay time.Duration
}

// SetDelay changes the delay for data read from now on.
func (r *DelayRelay) SetDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

func (r *DelayRelay) current() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delay
}

// Serve relays ln's connections to target (dialed with dial) until ln closes.
func (r *DelayRelay) Serve(ln net.Listener, target string, dial func(context.Context, string, string) (net.Conn, error)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := dial(context.Background(), "tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			go func() { r.pipe(up, c); done <- struct{}{} }()
			go func() { r.pipe(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}

// pipe copies src to dst, each chunk written Delay after it was read,
// in order.
func (r *DelayRelay) pipe(dst, src net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 64)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(r.current())}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for ch := range q {
		if failed {
			continue // drain, so the reader ends
		}
		time.Sleep(time.Until(ch.at))
		_, err := dst.Write(ch.b)
		failed = err != nil
	}
	if tc, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
}
