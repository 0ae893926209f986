package fence

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestKernelRefusesNewConnections: with the fence closed, a client in
// another namespace is reset on both fenced ports, while loopback and an
// unfenced port still connect; opened, the client connects.
func TestKernelRefusesNewConnections(t *testing.T) {
	l := newLab(t)
	k := l.kernel(t, Rule{Ports: []uint16{1972, 52773}})
	l.serve(t, "tcp", ":1972")
	l.serve(t, "tcp4", "0.0.0.0:52773")
	free := l.serve(t, "tcp", ":2188")
	m := l.pair.MemberIP

	if _, err := k.Close(); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, l.client, m+":1972")
	mustRefuse(t, l.client, m+":52773")
	mustConnect(t, l.client, m+":2188")
	mustConnect(t, l.member, "127.0.0.1:1972")
	mustConnect(t, l.member, m+":52773") // the member's own address, over loopback
	if free.count() != 1 {
		t.Fatalf("unfenced port accepted %d", free.count())
	}
	st, err := k.Inspect()
	if err != nil || !st.Closed || !st.Intact || st.Rejected != 2 {
		t.Fatalf("inspect: %+v, %v; want closed, intact, 2 refused", st, err)
	}
	if got := l.nft(t, "list", "table", "inet", Table); !strings.Contains(got, "reject with tcp reset") ||
		!strings.Contains(got, `tcp flags syn / syn,ack`) {
		t.Fatalf("nft shows:\n%s", got)
	}

	if _, err := k.Open(); err != nil {
		t.Fatal(err)
	}
	mustConnect(t, l.client, m+":1972")
	mustConnect(t, l.client, m+":52773")
	if st, _ := k.Inspect(); st.Closed {
		t.Fatalf("open fence still has its table: %+v", st)
	}
	if got := l.nft(t, "list", "ruleset"); strings.Contains(got, Table) {
		t.Fatalf("open fence left:\n%s", got)
	}
}

// TestKernelAnotherTablesAcceptDoesNotOpenIt: accept rules in other
// tables, before and after the fence's chain, let no client past it.
func TestKernelAnotherTablesAcceptDoesNotOpenIt(t *testing.T) {
	l := newLab(t)
	k := l.kernel(t, Rule{Ports: []uint16{1972}})
	l.serve(t, "tcp", ":1972")
	l.nftScript(t, `table inet other {
  chain early { type filter hook input priority raw; policy accept; tcp dport 1972 accept; }
  chain late { type filter hook input priority 100; policy accept; tcp dport 1972 accept; }
}
table ip legacy {
  chain in { type filter hook input priority -400; policy accept; counter accept; }
}`)
	if _, err := k.Close(); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, l.client, l.pair.MemberIP+":1972")
	// And the fence never touches them: opening deletes only its own table.
	if _, err := k.Open(); err != nil {
		t.Fatal(err)
	}
	got := l.nft(t, "list", "ruleset")
	if !strings.Contains(got, "table inet other") || !strings.Contains(got, "table ip legacy") {
		t.Fatalf("other tables gone:\n%s", got)
	}
}

// TestKernelAllowList: allowed prefixes connect while the fence is
// closed; a prefix next to the client's does not let it in.
func TestKernelAllowList(t *testing.T) {
	l := newLab(t)
	a6, m6 := l.pair.AddIPv6(t)
	l.serve(t, "tcp", ":1972")
	m := l.pair.MemberIP
	near := Rule{Ports: []uint16{1972}, Allow: []netip.Prefix{
		netip.MustParsePrefix("127.200.0.0/31"), // 127.200.0.0-1: holds the client
		netip.MustParsePrefix("fd69::/127"),     // fd69::0-1: holds the client
	}}
	if _, err := l.kernel(t, near).Close(); err != nil {
		t.Fatal(err)
	}
	mustConnect(t, l.client, m+":1972")
	mustConnect(t, l.client, "["+m6+"]:1972")

	other := Rule{Ports: []uint16{1972}, Allow: []netip.Prefix{
		netip.MustParsePrefix("127.200.0.2/32"), // the member itself, not the client
		netip.MustParsePrefix("fd69::2/128"),
	}}
	k := l.kernel(t, other)
	if _, err := k.Close(); err != nil { // replaces the table: another rule
		t.Fatal(err)
	}
	mustRefuse(t, l.client, m+":1972")
	mustRefuse(t, l.client, "["+m6+"]:1972")
	if st, _ := k.Inspect(); !st.Intact || st.Rejected != 2 || len(st.Allow) != 2 {
		t.Fatalf("inspect: %+v", st)
	}
	_ = a6
}

// TestKernelPutsItselfBack: every way of changing the table by hand is
// seen and undone by the next Close.
func TestKernelPutsItselfBack(t *testing.T) {
	l := newLab(t)
	k := l.kernel(t, Rule{Ports: []uint16{1972, 52773}, Allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}})
	l.serve(t, "tcp", ":1972")
	addr := l.pair.MemberIP + ":1972"
	if _, err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if before, err := k.Close(); err != nil || !before.Intact {
		t.Fatalf("a second Close found %+v, %v: the rules read back differ from the ones written", before, err)
	}
	edits := []struct{ name, script string }{
		{"flush ruleset", "flush ruleset"},
		{"flush table", "flush table inet " + Table},
		{"delete table", "delete table inet " + Table},
		{"accept rule inserted", "insert rule inet " + Table + " " + Chain + " tcp dport 1972 accept"},
		{"rule deleted", "flush chain inet " + Table + " " + Chain + "\nadd rule inet " + Table + " " + Chain + ` iifname "lo" accept comment "iris-mirror-agent fence: loopback passes"`},
		{"policy drop", "chain inet " + Table + " " + Chain + " { policy drop; }"},
		{"dormant", "table inet " + Table + " { flags dormant; }"},
		{"another chain", "add chain inet " + Table + " extra { type filter hook input priority -500; policy accept; }"},
	}
	for _, e := range edits {
		l.nftScript(t, e.script)
		before, err := k.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if before.Intact {
			t.Errorf("%s: not seen", e.name)
		}
		st, err := k.Inspect()
		if err != nil || !st.Intact {
			t.Fatalf("%s: after Close: %+v, %v", e.name, st, err)
		}
		mustRefuse(t, l.client, addr)
	}
}

// TestKernelFlood: thousands of connection attempts to a closed fence
// from many goroutines: every one is refused, none reaches the server,
// and the counter counts them all.
func TestKernelFlood(t *testing.T) {
	l := newLab(t)
	k := l.kernel(t, Rule{Ports: []uint16{1972}})
	srv := l.serve(t, "tcp", ":1972")
	if _, err := k.Close(); err != nil {
		t.Fatal(err)
	}
	const total, workers = 2000, 16
	var refused, other atomic.Int64
	var firstOther atomic.Value
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c, err := l.client.DialWith(ctx, nil, "tcp", l.pair.MemberIP+":1972")
				cancel()
				switch {
				case errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
				case err == nil:
					c.Close()
					other.Add(1)
				default:
					firstOther.CompareAndSwap(nil, err)
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if refused.Load() != total || srv.count() != 0 {
		t.Fatalf("%d refused, %d otherwise (first: %v), %d accepted; want all %d refused", refused.Load(), other.Load(), firstOther.Load(), srv.count(), total)
	}
	if st, _ := k.Inspect(); st.Rejected != total {
		t.Fatalf("counter %d; want %d", st.Rejected, total)
	}
}

// TestKernelCut: Cut resets the sessions from clients to both fenced
// ports, IPv4 through a dual-stack listener (v4-mapped sockets), IPv4
// only and IPv6; it spares loopback, allowed clients, unfenced ports and
// the listeners themselves.
func TestKernelCut(t *testing.T) {
	l := newLab(t)
	_, m6 := l.pair.AddIPv6(t)
	allowed := netip.MustParsePrefix("fd69::1/128") // the client's IPv6 address
	k := l.kernel(t, Rule{Ports: []uint16{1972, 52773}, Allow: []netip.Prefix{allowed}})
	l.serve(t, "tcp", ":1972")
	l.serve(t, "tcp4", "0.0.0.0:52773")
	l.serve(t, "tcp", ":2188")
	m := l.pair.MemberIP

	var cut []net.Conn
	for range 3 {
		cut = append(cut, mustConnect(t, l.client, m+":1972"), mustConnect(t, l.client, m+":52773"))
	}
	spared := map[string]net.Conn{
		"loopback":              mustConnect(t, l.member, "127.0.0.1:1972"),
		"own address":           mustConnect(t, l.member, m+":52773"),
		"allowed IPv6 client":   mustConnect(t, l.client, "["+m6+"]:1972"),
		"unfenced port":         mustConnect(t, l.client, m+":2188"),
		"loopback, IPv4 only":   mustConnect(t, l.member, "127.0.0.1:52773"),
		"loopback, IPv6 (::1)":  mustConnect(t, l.member, "[::1]:1972"),
		"own address over IPv6": mustConnect(t, l.member, "["+m6+"]:1972"),
	}
	if _, err := k.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := k.Cut()
	if err != nil || n != len(cut) {
		t.Fatalf("cut %d, %v; want %d", n, err, len(cut))
	}
	for i, c := range cut {
		mustBeCut(t, c, "client session "+c.RemoteAddr().String()+" #"+string(rune('0'+i)))
	}
	for what, c := range spared {
		mustSurvive(t, c, what)
	}
	// The listeners are still there: loopback connects anew.
	mustConnect(t, l.member, "127.0.0.1:1972")
	mustConnect(t, l.member, "127.0.0.1:52773")
	if n, err := k.Cut(); n != 0 || err != nil {
		t.Fatalf("second cut: %d, %v; want nothing left", n, err)
	}
}

// TestKernelCutIPv6Client: a real IPv6 session is cut too.
func TestKernelCutIPv6Client(t *testing.T) {
	l := newLab(t)
	_, m6 := l.pair.AddIPv6(t)
	k := l.kernel(t, Rule{Ports: []uint16{1972}})
	l.serve(t, "tcp6", "[::]:1972")
	c := mustConnect(t, l.client, "["+m6+"]:1972")
	if n, err := k.Cut(); n != 1 || err != nil {
		t.Fatalf("cut %d, %v; want 1", n, err)
	}
	mustBeCut(t, c, "IPv6 session")
}

// TestKernelCutNeverTakesTheListener: a session that ended between the
// dump and the destroy is not found by its cookie; the kernel's look-up
// by address would find the port's listener, and the cookie keeps it
// from destroying that.
func TestKernelCutNeverTakesTheListener(t *testing.T) {
	l := newLab(t)
	k := l.kernel(t, Rule{Ports: []uint16{1972}})
	l.serve(t, "tcp4", "0.0.0.0:1972")
	c := mustConnect(t, l.client, l.pair.MemberIP+":1972")
	socks, err := k.sock.dump(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	var stale *netlink.Socket
	for _, s := range socks {
		if s.State == netlink.TCP_ESTABLISHED && s.ID.SourcePort == 1972 {
			stale = s
		}
	}
	if stale == nil {
		t.Fatal("session not in the dump")
	}
	c.Close()
	// The member's side may linger a moment (CLOSE_WAIT, LAST_ACK) with
	// the same cookie, and be destroyed; once it is gone, the destroy must
	// find nothing, never the listener.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err = k.sock.kill(stale)
		if errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("destroying a gone session: %v; want ESTALE or ENOENT", err)
		}
	}
	mustConnect(t, l.client, l.pair.MemberIP+":1972") // the listener lives
}

// TestKernelCutSparesOutgoing: the member's own connection that happens
// to use a fenced port as its local port (no listener on it) is left.
func TestKernelCutSparesOutgoing(t *testing.T) {
	l := newLab(t)
	k := l.kernel(t, Rule{Ports: []uint16{52773}})
	ln, err := l.client.Listen("tcp", l.pair.AgentIP+":1972")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(l.pair.MemberIP), Port: 52773}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := l.member.DialWith(ctx, d, "tcp", l.pair.AgentIP+":1972")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := k.Cut(); n != 0 || err != nil {
		t.Fatalf("cut %d, %v; want the outgoing connection left", n, err)
	}
	if _, err := out.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
}
