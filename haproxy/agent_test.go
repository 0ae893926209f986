package haproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func snapshot(o probe.Outcome, reason string) *checker.Snapshot {
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: forever},
		[]checker.ProbeSpec{{Name: probe.MirrorStatusName}}, t0)
	return observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: o, Reason: reason})
}

func TestReplyGolden(t *testing.T) {
	primary := snapshot(probe.Primary, "mirror_status 200 SUCCESS")
	standby := snapshot(probe.NotPrimary, "mirror_status 503 FAILED")
	down := snapshot(probe.Error, "mirror_status timeout")
	cases := []struct {
		snap *checker.Snapshot
		send string
		want string
	}{
		{primary, "", "up ready 100%\n"},
		{primary, "primary\n", "up ready 100%\n"},
		{primary, "PRIMARY\r\n", "up ready 100%\n"},
		{primary, "standby\n", "down ready #role primary: mirror_status 200 SUCCESS\n"},
		{primary, "health\n", "up ready 100%\n"},
		{standby, "", "down ready #role standby: mirror_status 503 FAILED\n"},
		{standby, "standby\n", "up ready 100%\n"},
		{standby, " standby , extra\n", "up ready 100%\n"},
		{standby, "health\nprimary\n", "up ready 100%\n"},
		{down, "", "down ready #role down: mirror_status timeout (1 in a row)\n"},
		{down, "live\n", "up ready 100%\n"},
		{primary, "bogus\n", "down ready #unknown check bogus\n"},
		{primary, "\x00\xff\x1b[2J\n", "down ready #unknown check ???[2J\n"},
		{primary, "#\n", "down ready #unknown check #\n"},
		{primary, strings.Repeat("A", 500), "down ready #unknown check " + strings.Repeat("A", 32) + "\n"},
	}
	for _, tc := range cases {
		s := &AgentServer{Snapshot: func() *checker.Snapshot { return tc.snap }}
		if got := string(s.Answer([]byte(tc.send))); got != tc.want {
			t.Errorf("role %s, send %q: got %q, want %q", tc.snap.Role, tc.send, got, tc.want)
		}
	}
}

func TestDownSanitises(t *testing.T) {
	got := string(Down("line1\nline2\r#x\x00" + strings.Repeat("y", 500)))
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") || !strings.HasPrefix(got, "down ready #") {
		t.Fatalf("not one line: %q", got)
	}
	if len(got) > len("down ready #")+maxReason+1 {
		t.Fatalf("too long: %d", len(got))
	}
}

// startAgent serves the agent protocol on a loopback port.
func startAgent(t *testing.T, snap *checker.Snapshot) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &AgentServer{Snapshot: func() *checker.Snapshot { return snap }, Logger: zerolog.Nop()}
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func TestServeAnswersAtOnceWithoutSend(t *testing.T) {
	addr := startAgent(t, snapshot(probe.Primary, "mirror_status 200 SUCCESS"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	start := time.Now()
	b, err := io.ReadAll(c) // the agent writes one line and closes
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "up ready 100%\n" {
		t.Fatalf("got %q", b)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("answer took %v with nothing sent: it must not wait for agent-send", d)
	}
}

func TestServeWithSendAndAbruptClients(t *testing.T) {
	addr := startAgent(t, snapshot(probe.NotPrimary, "mirror_status 503 FAILED"))
	// A client that sends and resets at once must not disturb the server.
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("standby\n"))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	// haproxy's own pattern: the send is there when the connection is.
	// Send on a connection opened with the data already queued.
	d := net.Dialer{}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	if string(b) != "down ready #role standby: mirror_status 503 FAILED\n" {
		t.Fatalf("default check for a standby: %q", b)
	}
}

// TestHandleReadsQueuedSend accepts only after the client's agent-send is
// queued, as happens with haproxy (its send rides on the handshake's ACK).
func TestHandleReadsQueuedSend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := &AgentServer{Snapshot: func() *checker.Snapshot { return snapshot(probe.NotPrimary, "mirror_status 503 FAILED") }}
	for send, want := range map[string]string{
		"standby\n": "up ready 100%\n",
		"primary\n": "down ready #role standby: mirror_status 503 FAILED\n",
		"health\n":  "up ready 100%\n",
		"nope\n":    "down ready #unknown check nope\n",
	} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s.handle(sc, make([]byte, 256))
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != want {
			t.Errorf("send %q: got %q, want %q", send, b, want)
		}
	}
}

// opaqueListener hides the *net.TCPListener, so Serve takes its portable
// net.Conn path (the path of every platform without the fd fast path).
type opaqueListener struct{ net.Listener }

// TestServeBothAcceptPaths runs the same checks through the file-descriptor
// path (a plain TCP listener, on Linux) and the portable net.Conn path, and
// checks that Serve closes the port when it stops: the fast path accepts on
// a duplicate of the socket, which must not keep it listening.
func TestServeBothAcceptPaths(t *testing.T) {
	snap := snapshot(probe.NotPrimary, "mirror_status 503 FAILED")
	for name, wrap := range map[string]func(net.Listener) net.Listener{
		"fd":       func(ln net.Listener) net.Listener { return ln },
		"net.Conn": func(ln net.Listener) net.Listener { return opaqueListener{ln} },
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			s := &AgentServer{Snapshot: func() *checker.Snapshot { return snap }, Logger: zerolog.Nop()}
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx, wrap(ln)) }()
			notPrimary := string(Down("role standby: mirror_status 503 FAILED"))
			checks := map[string]string{
				"":          notPrimary,
				"primary\n": notPrimary,
				"standby\n": ReplyUp,
				"Health\n":  ReplyUp,
				"nope\n":    string(Down("unknown check nope")),
			}
			for round := range 3 {
				for send, want := range checks {
					got, err := readLine(addr, send)
					if err != nil || got != want {
						t.Errorf("round %d, send %q: got %q (%v), want %q", round, send, got, err, want)
					}
				}
			}
			// The counter moves just after the reply is written: allow a moment.
			want := uint64(3 * len(checks))
			for deadline := time.Now().Add(5 * time.Second); s.Answers() < want && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if got := s.Answers(); got != want {
				t.Errorf("Answers() = %d, want %d", got, want)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve after cancel: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return after cancel")
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatal("port still open after Serve returned")
			}
		})
	}
}

// TestServeManyConcurrentChecks keeps every acceptor busy at once.
func TestServeManyConcurrentChecks(t *testing.T) {
	addr := startAgent(t, snapshot(probe.Primary, "mirror_status 200 SUCCESS"))
	const workers, each = 8, 50
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range each {
				line, err := readLine(addr, "primary\n")
				if err == nil && line != ReplyUp {
					err = fmt.Errorf("got %q", line)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// readLine does one check as haproxy does (see Ask).
func readLine(addr, send string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return haproxyclient.Ask(ctx, addr, send)
}

// TestAskSendsWithTheHandshake: a client that delays the handshake's ACK
// like haproxy always gets the check it named, never the default.
func TestAskSendsWithTheHandshake(t *testing.T) {
	addr := startAgent(t, snapshot(probe.NotPrimary, "mirror_status 503 FAILED"))
	for i := range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		line, err := haproxyclient.Ask(ctx, addr, "standby\n")
		cancel()
		if err != nil || line != "up ready 100%\n" {
			t.Fatalf("attempt %d: %q %v: the agent-send was not there at accept", i, line, err)
		}
	}
}

// observe feeds a round that started and finished at now; forever is a
// lease that outlives the test (readers here read it with the real clock).
func observe(m *checker.Machine, now time.Time, results ...probe.Result) *checker.Snapshot {
	s, _ := m.Observe(now, now, results...)
	return s
}

const forever = 100 * 365 * 24 * time.Hour
