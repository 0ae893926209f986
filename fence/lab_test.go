package fence

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// lab is a member's network namespace and a client's, joined by a veth
// pair (itest.NetPair), with the real kernel's nftables and inet_diag.
type lab struct {
	pair           *itest.NetPair
	member, client *itest.Netns
	ns             netns.NsHandle
	nftBin         string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	p := itest.RequireNetns(t)
	nft := itest.RequireTool(t, "nft")
	ns, err := netns.GetFromName(p.Member)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return &lab{pair: p, member: itest.EnterNetns(t, p.Member), client: itest.EnterNetns(t, p.Agent), ns: ns, nftBin: nft}
}

// kernel opens the fence's kernel in the member's namespace.
func (l *lab) kernel(t *testing.T, r Rule) *Kernel {
	t.Helper()
	k, err := openKernelAt(r, l.ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Release)
	return k
}

// nft runs the real nft in the member's namespace.
func (l *lab) nft(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", l.pair.Member, l.nftBin}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nftScript feeds a ruleset to nft -f - in the member's namespace.
func (l *lab) nftScript(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", l.pair.Member, l.nftBin, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
}

// server holds every connection it accepts and echoes what it reads.
type server struct {
	ln       net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	accepted int
}

// serve listens on addr ("tcp" on ":port" is dual-stack) inside the
// member's namespace until the test ends.
func (l *lab) serve(t *testing.T, network, addr string) *server {
	t.Helper()
	ln, err := l.member.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.accepted++
			s.mu.Unlock()
			go func() {
				_, _ = io.Copy(c, c)
				c.Close() // the client closed: so does the server, as IRIS would
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// dialer is what a session is opened from: the client's namespace, or
// the member's own (loopback).
type dialer interface {
	DialWith(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error)
}

// connect opens a session and checks it works (one echo).
func connect(t *testing.T, from dialer, addr string) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := from.DialWith(ctx, nil, "tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	if err := echo(c); err != nil {
		return nil, err
	}
	return c, nil
}

// echo sends one byte and reads it back within a second.
func echo(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 1))
	return err
}

// mustRefuse checks that a new connection is reset at once (refused),
// not dropped (a timeout) nor accepted.
func mustRefuse(t *testing.T, from dialer, addr string) {
	t.Helper()
	start := time.Now()
	c, err := connect(t, from, addr)
	if err == nil {
		c.Close()
		t.Fatalf("%s: connected; want refused", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("%s: %v after %v; want connection refused (a reset)", addr, err, time.Since(start))
	}
}

func mustConnect(t *testing.T, from dialer, addr string) net.Conn {
	t.Helper()
	c, err := connect(t, from, addr)
	if err != nil {
		t.Fatalf("%s: %v; want connected", addr, err)
	}
	return c
}

// mustBeCut checks that c was reset by the member: a read fails at once
// with a reset, not a timeout.
func mustBeCut(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 16))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: read after the cut: %v; want connection reset", what, err)
	}
}

func mustSurvive(t *testing.T, c net.Conn, what string) {
	t.Helper()
	if err := echo(c); err != nil {
		t.Fatalf("%s: %v; want the session alive", what, err)
	}
}
