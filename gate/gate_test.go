package gate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a loopback TCP server standing in for the member's port.
type server struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	ended chan struct{} // one value per connection that ended
}

// startServer serves each connection with handle until the test ends.
func startServer(t *testing.T, handle func(c *net.TCPConn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, conns: map[net.Conn]struct{}{}, ended: make(chan struct{}, 1024)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				handle(c.(*net.TCPConn))
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				select {
				case s.ended <- struct{}{}:
				default: // nobody counts this server's connections
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

// echo sends back what it reads and passes the client's half-close on.
func echo(c *net.TCPConn) {
	_, _ = io.Copy(c, c)
	_ = c.CloseWrite()
	_, _ = io.Copy(io.Discard, c)
}

// startGate runs a gate until the test ends and checks that Run returns.
func startGate(t *testing.T, cfg Config) *Gate {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return g
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openGate(t *testing.T, g *Gate) string {
	t.Helper()
	g.Set(true, forever(), "primary")
	a, err := g.WaitOpen(ctxT(t))
	if err != nil {
		t.Fatalf("gate did not open: %v", err)
	}
	return a.String()
}

func closeGate(t *testing.T, g *Gate) {
	t.Helper()
	g.Set(false, forever(), "role standby: test")
	if err := g.WaitClosed(ctxT(t)); err != nil {
		t.Fatalf("gate did not close: %v", err)
	}
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// admitted dials addr and makes one round trip, so the gate has admitted
// the session (a connection still in the accept queue is reset when the
// gate closes).
func admitted(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c := dial(t, addr)
	if err := roundTrip(c, "admitted"); err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip writes a line and reads it back.
func roundTrip(c net.Conn, line string) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return fmt.Errorf("echo %q, want %q", got, line)
	}
	return nil
}

// waitEnded waits until a read on c fails (the session was cut) and
// returns how long that took.
func waitEnded(t *testing.T, c net.Conn, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(within))
	_, err := c.Read(make([]byte, 1))
	if isTimeout(err) {
		t.Fatalf("session still alive after %v", within)
	}
	if err == nil {
		t.Fatal("read data from a session that should be cut")
	}
	return time.Since(start)
}

// dialReset connects to a gate that accepts and then resets, and returns
// how long until the client saw the end. On loopback the reset may reach
// the client inside connect() already.
func dialReset(t *testing.T, addr string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial %s: %v, want accepted then reset", addr, err)
		}
		return time.Since(start)
	}
	defer c.Close()
	waitEnded(t, c, within)
	return time.Since(start)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// freePort returns a loopback address nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// counted records what a gate tells its Counter.
type counted struct{ conns, in, out atomic.Int64 }

func (c *counted) CountGateConnection() { c.conns.Add(1) }
func (c *counted) AddGateBytes(in, out int64) {
	c.in.Add(in)
	c.out.Add(out)
}

func TestForwardsBothWays(t *testing.T) {
	srv := startServer(t, echo)
	counter := &counted{}
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr(), Counter: counter})
	addr := openGate(t, g)
	c := admitted(t, addr)
	// A large payload both ways, read concurrently so neither side stalls.
	payload := make([]byte, 3<<20+123)
	_, _ = rand.Read(payload)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(c, int64(len(payload))))
		got <- b
	}()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, payload) {
		t.Fatalf("echoed %d bytes, differing from the %d sent", len(b), len(payload))
	}
	c.Close()
	<-srv.ended
	want := uint64(len("admitted\n") + len(payload))
	waitFor(t, func() bool { return g.Stats().OpenSessions == 0 }, "session end")
	st := g.Stats()
	if st.BytesToTarget != want || st.BytesToClient != want || st.Sessions != 1 || st.State != "open" || st.Opened != 1 {
		t.Fatalf("stats %+v, want %d bytes each way, 1 session, open", st, want)
	}
	if counter.conns.Load() != 1 || counter.in.Load() != int64(want) || counter.out.Load() != int64(want) {
		t.Fatalf("counter told %d connections, %d bytes in, %d out; want 1, %d, %d",
			counter.conns.Load(), counter.in.Load(), counter.out.Load(), want, want)
	}
}

func TestHalfClosePassesThrough(t *testing.T) {
	// The target answers only after the client's half-close, then sends
	// its own half-close while still reading a trailer.
	trailer := make(chan string, 1)
	srv := startServer(t, func(c *net.TCPConn) {
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "got %d bytes\n", len(b))
		_ = c.CloseWrite()
		trailer <- "done"
	})
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	c := dial(t, openGate(t, g))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "twelve bytes"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c) // ends with the target's FIN, not a reset
	if err != nil || string(b) != "got 12 bytes\n" {
		t.Fatalf("read %q, %v", b, err)
	}
	<-trailer
}

func TestTargetHalfCloseKeepsClientDirection(t *testing.T) {
	got := make(chan string, 1)
	srv := startServer(t, func(c *net.TCPConn) {
		io.WriteString(c, "banner\n")
		_ = c.CloseWrite()
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	c := dial(t, openGate(t, g))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "banner\n" {
		t.Fatalf("read %q, %v", b, err)
	}
	io.WriteString(c, "after the target's FIN")
	c.CloseWrite()
	if s := <-got; s != "after the target's FIN" {
		t.Fatalf("target read %q", s)
	}
}

func TestRefusedWhileClosed(t *testing.T) {
	srv := startServer(t, echo)
	listen := freePort(t)
	g := startGate(t, Config{Listen: listen, Target: srv.addr()})
	g.Set(false, forever(), "role unknown: starting")
	refusedFast(t, listen)

	openGate(t, g)
	c := dial(t, listen)
	if err := roundTrip(c, "while primary"); err != nil {
		t.Fatal(err)
	}
	closeGate(t, g)
	refusedFast(t, listen)
	if st := g.Stats(); st.State != "closed" || st.Reason != "role standby: test" || st.Closed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// refusedFast dials addr and wants connection refused, measured.
func refusedFast(t *testing.T, addr string) {
	t.Helper()
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	took := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatalf("%s accepted a connection while the gate is closed", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	t.Logf("closed gate: connection refused in %v", took)
	if took > 500*time.Millisecond {
		t.Fatalf("refusal took %v", took)
	}
}

func TestDemotionCutsSessions(t *testing.T) {
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	addr := openGate(t, g)
	a, b := admitted(t, addr), admitted(t, addr)
	if n := g.Stats().OpenSessions; n != 2 {
		t.Fatalf("%d open sessions, want 2", n)
	}
	start := time.Now()
	g.Set(false, forever(), "role standby: demoted")
	took := waitEnded(t, a, 2*time.Second)
	waitEnded(t, b, 2*time.Second)
	t.Logf("sessions cut %v after demotion", time.Since(start))
	if took > time.Second {
		t.Fatalf("cut took %v", took)
	}
	// The target side is closed too.
	for range 2 {
		select {
		case <-srv.ended:
		case <-time.After(2 * time.Second):
			t.Fatal("target connection not closed")
		}
	}
	waitFor(t, func() bool { return g.Stats().OpenSessions == 0 }, "sessions gone")
	if st := g.Stats(); st.Cut != 2 {
		t.Fatalf("sessions_cut %d, want 2", st.Cut)
	}
}

func TestDrainGrace(t *testing.T) {
	const drain = 400 * time.Millisecond
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr(), Drain: drain})
	addr := openGate(t, g)
	c := admitted(t, addr)
	start := time.Now()
	closeGate(t, g)
	refusedFast(t, addr) // new connections: refused at once
	time.Sleep(drain / 4)
	if err := roundTrip(c, "during the drain"); err != nil {
		t.Fatalf("session cut before the drain grace ended: %v", err)
	}
	waitEnded(t, c, 5*time.Second)
	cutAfter := time.Since(start)
	t.Logf("drain %v: session cut after %v", drain, cutAfter)
	if cutAfter < drain-50*time.Millisecond || cutAfter > drain+time.Second {
		t.Fatalf("cut after %v, want about %v", cutAfter, drain)
	}
	if st := g.Stats(); st.Cut != 1 {
		t.Fatalf("sessions_cut %d", st.Cut)
	}
}

func TestReopenDuringDrainKeepsSessions(t *testing.T) {
	const drain = 200 * time.Millisecond
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr(), Drain: drain})
	addr := openGate(t, g)
	c := admitted(t, addr)
	closeGate(t, g)
	if a := openGate(t, g); a != addr {
		t.Fatalf("reopened on %s, want the same %s", a, addr)
	}
	time.Sleep(2 * drain)
	if err := roundTrip(c, "still primary"); err != nil {
		t.Fatalf("a session of a member that is primary again was cut: %v", err)
	}
	if st := g.Stats(); st.Cut != 0 || st.Opened != 2 || st.Closed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTargetRefusedResetsClientAtOnce(t *testing.T) {
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: freePort(t)})
	took := dialReset(t, openGate(t, g), 2*time.Second)
	t.Logf("target refused: client closed after %v", took)
	if took > 500*time.Millisecond {
		t.Fatalf("client waited %v", took)
	}
	waitFor(t, func() bool { return g.Stats().OpenSessions == 0 }, "session gone")
	if st := g.Stats(); st.DialFailures != 1 || st.Sessions != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRefusingTargetClosesUntilTheNextVerdict: once the target refuses,
// the next clients are refused at the gate (a balancer moves them on) and
// the owner is told; a newer verdict opens the gate again.
func TestRefusingTargetClosesUntilTheNextVerdict(t *testing.T) {
	told := make(chan struct{}, 8)
	target := freePort(t)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: target, OnTargetRefused: func() { told <- struct{}{} }})
	addr := openGate(t, g)
	dialReset(t, addr, 2*time.Second)
	select {
	case <-told:
	case <-time.After(5 * time.Second):
		t.Fatal("owner not told")
	}
	if err := g.WaitClosed(ctxT(t)); err != nil {
		t.Fatalf("gate still open after its target refused: %v", err)
	}
	refusedFast(t, addr)
	// The target is back and a newer verdict comes: open again.
	srv, err := net.Listen("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if a := openGate(t, g); a != addr {
		t.Fatalf("reopened on %s, want %s", a, addr)
	}
	if len(told) != 0 {
		t.Fatalf("told %d more times for one verdict", len(told))
	}
}

func TestMaxSessions(t *testing.T) {
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr(), MaxSessions: 2})
	addr := openGate(t, g)
	a := admitted(t, addr)
	admitted(t, addr)
	dialReset(t, addr, 2*time.Second)
	waitFor(t, func() bool { return g.Stats().OverLimit == 1 }, "the third connection refused")
	if st := g.Stats(); st.OverLimit != 1 || st.OpenSessions != 2 {
		t.Fatalf("stats %+v", st)
	}
	a.Close()
	waitFor(t, func() bool { return g.Stats().OpenSessions == 1 }, "a slot free")
	if err := roundTrip(dial(t, addr), "room again"); err != nil {
		t.Fatal(err)
	}
}

// TestReopenSamePortRepeatedly closes and reopens the same port with
// connections of the last period in TIME_WAIT on the gate's side.
func TestReopenSamePortRepeatedly(t *testing.T) {
	srv := startServer(t, func(c *net.TCPConn) {
		io.WriteString(c, "hi\n") // and close first: the gate's side closes before the client
	})
	listen := freePort(t)
	g := startGate(t, Config{Listen: listen, Target: srv.addr()})
	for i := range 20 {
		if a := openGate(t, g); a != listen {
			t.Fatalf("round %d: opened %s, want %s", i, a, listen)
		}
		c := dial(t, listen)
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if b, err := io.ReadAll(c); err != nil || string(b) != "hi\n" {
			t.Fatalf("round %d: %q %v", i, b, err)
		}
		c.Close()
		closeGate(t, g)
	}
	if st := g.Stats(); st.Opened != 20 || st.Closed != 20 || st.ListenErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConcurrentTogglingAndTraffic flips the gate from several goroutines
// while clients connect; run with -race. Whatever the order, the last wish
// wins and nothing leaks.
func TestConcurrentTogglingAndTraffic(t *testing.T) {
	srv := startServer(t, echo)
	listen := freePort(t)
	g := startGate(t, Config{Listen: listen, Target: srv.addr()})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				g.Set((i+j)%2 == 0, forever(), "toggle")
				time.Sleep(time.Millisecond)
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", listen, time.Second)
				if err == nil {
					_ = roundTrip(c, "x") // may be cut: the gate is flapping
					c.Close()
				}
				_ = g.Stats()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	closeGate(t, g)
	refusedFast(t, listen)
	waitFor(t, func() bool { return g.Stats().OpenSessions == 0 }, "every session ended")
	st := g.Stats()
	t.Logf("after toggling: %+v", st)
	if st.Opened == 0 || st.Opened != st.Closed {
		t.Fatalf("opened %d closed %d", st.Opened, st.Closed)
	}
}

func TestShutdownClosesEverything(t *testing.T) {
	srv := startServer(t, echo)
	g, err := New(Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	addr := openGate(t, g)
	c := admitted(t, addr)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	waitEnded(t, c, time.Second)
	refusedFast(t, addr)
	if err := g.Run(context.Background()); err == nil {
		t.Fatal("a second Run must fail")
	}
	// goleak (TestMain) checks that no accept loop or session outlives Run.
}

func TestListenRetriedWhilePortTaken(t *testing.T) {
	srv := startServer(t, echo)
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := squatter.Addr().String()
	g := startGate(t, Config{Listen: listen, Target: srv.addr()})
	g.Set(true, forever(), "primary")
	waitFor(t, func() bool { return g.Stats().ListenErrors > 0 }, "a failed listen")
	st := g.Stats()
	if st.State != "closed" || !strings.Contains(st.LastError, "address already in use") {
		t.Fatalf("stats %+v", st)
	}
	squatter.Close()
	if _, err := g.WaitOpen(ctxT(t)); err != nil {
		t.Fatalf("gate did not open once the port was free: %v", err)
	}
	if st := g.Stats(); st.LastError != "" {
		t.Fatalf("last_error kept after recovery: %q", st.LastError)
	}
	if err := roundTrip(dial(t, listen), "recovered"); err != nil {
		t.Fatal(err)
	}
}

// forever is a lease that outlives the test.
func forever() time.Time { return time.Now().Add(time.Hour) }

// TestLeaseClosesTheGate: an open verdict nobody renews closes the gate by
// itself at its lease, cuts its sessions, and no connection is admitted
// past it.
func TestLeaseClosesTheGate(t *testing.T) {
	const lease = 300 * time.Millisecond
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	until := time.Now().Add(lease)
	g.Set(true, until, "primary")
	a, err := g.WaitOpen(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c := admitted(t, a.String())
	if err := g.WaitClosed(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); now.Before(until) {
		t.Fatalf("closed %v before the lease's end", until.Sub(now))
	}
	waitEnded(t, c, 5*time.Second)
	refusedFast(t, a.String())
	if st := g.Stats(); st.Cut != 1 || st.Closed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestAdmitReadsTheLease: a connection accepted after the lease ran out
// is reset even before Run has closed the listener.
func TestAdmitReadsTheLease(t *testing.T) {
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	addr := openGate(t, g)
	ln := g.currentListener()
	// The verdict's lease ends now; admit must refuse whatever Run does.
	g.wish.Store(&wish{open: true, until: time.Now(), reason: "expired"})
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		waitEnded(t, c, 5*time.Second)
		c.Close()
	}
	waitFor(t, func() bool { return g.Stats().NotOpen >= 1 || g.currentListener() != ln }, "the connection refused")
	if st := g.Stats(); st.Sessions != 0 {
		t.Fatalf("a session was admitted past the lease: %+v", st)
	}
}

// TestRenewedLeaseKeepsItOpen: verdicts renewed before their lease ends
// keep the listener and its sessions as they are.
func TestRenewedLeaseKeepsItOpen(t *testing.T) {
	// A lease far longer than the renewals' spacing: a busy machine may
	// delay this goroutine, and a renewal later than the lease would close
	// the gate, rightly.
	const lease = 2 * time.Second
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	g.Set(true, time.Now().Add(lease), "primary")
	a, err := g.WaitOpen(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c := admitted(t, a.String())
	for end := time.Now().Add(2 * lease); time.Now().Before(end); time.Sleep(lease / 20) {
		g.Set(true, time.Now().Add(lease), "primary")
	}
	if err := roundTrip(c, "renewed"); err != nil {
		t.Fatalf("session cut while renewed: %v", err)
	}
	if st := g.Stats(); st.Opened != 1 || st.Closed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDrainCutsAfterAFailedRelisten is the regression test of a gate that
// never cut: demoted (drain armed), promoted while its port was taken
// (listen retried), the drain ended while it wanted to be open, demoted
// again: the sessions must still be cut a drain later.
func TestDrainCutsAfterAFailedRelisten(t *testing.T) {
	const drain = 200 * time.Millisecond
	srv := startServer(t, echo)
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr(), Drain: drain})
	addr := openGate(t, g)
	c := admitted(t, addr)
	closeGate(t, g)
	squatter, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	g.Set(true, forever(), "primary again")
	waitFor(t, func() bool { return g.Stats().ListenErrors > 0 }, "a failed listen")
	time.Sleep(2 * drain) // the first drain ends while the gate wants to be open
	if err := roundTrip(c, "primary again"); err != nil {
		t.Fatalf("a session of a member that is primary again was cut: %v", err)
	}
	start := time.Now()
	g.Set(false, time.Time{}, "role standby: demoted again")
	took := waitEnded(t, c, drain+5*time.Second)
	t.Logf("cut %v after the second demotion (drain %v)", time.Since(start), drain)
	if took < drain-20*time.Millisecond {
		t.Fatalf("cut after %v, before the drain %v", took, drain)
	}
}

func TestNewRejectsBadAddresses(t *testing.T) {
	for _, cfg := range []Config{
		{Listen: "52774", Target: "127.0.0.1:52773"},
		{Listen: ":52774", Target: ":52773"},
		{Listen: ":52774", Target: "nohost"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
