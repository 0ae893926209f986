package haproxy

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// serveWaiting serves s on a loopback port until the test ends; it runs
// both accept paths (the raw-fd fast path and the portable net.Conn one).
func serveWaiting(t *testing.T, s *AgentServer, portable bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var serve net.Listener = ln
	if portable {
		serve = plainListener{ln} // not a *net.TCPListener: no fast path
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx, serve); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

type plainListener struct{ net.Listener }

// askLate connects, waits, then sends send (possibly without its newline,
// closing its side instead) and returns the agent's line.
func askLate(t *testing.T, addr string, after time.Duration, send string, closeWrite bool) (string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	time.Sleep(after)
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	if closeWrite {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), time.Since(start)
}

// TestLateWordsAreHonoured: a word sent after the handshake (any client but
// haproxy's piggy-backed agent-send) is answered for what it asks, not for
// the default question.
func TestLateWordsAreHonoured(t *testing.T) {
	const wait = 2 * time.Second // the test's SendWait: far longer than the delays below
	primary := snapshot(probe.Primary, "mirror_status 200 SUCCESS")
	for _, portable := range []bool{false, true} {
		s := &AgentServer{Snapshot: func() *checker.Snapshot { return primary }, Logger: zerolog.Nop(), SendWait: wait}
		addr := serveWaiting(t, s, portable)
		for _, after := range []time.Duration{2 * time.Millisecond, 20 * time.Millisecond} {
			for _, tc := range []struct{ send, want string }{
				{"standby\n", "down ready #role primary: mirror_status 200 SUCCESS\n"},
				{"health\n", "up ready 100%\n"},
				{"primary\n", "up ready 100%\n"},
				{"bogus\n", "down ready #unknown check bogus\n"},
			} {
				got, _ := askLate(t, addr, after, tc.send, false)
				if got != tc.want {
					t.Errorf("portable=%v %q sent %v late: %q, want %q", portable, tc.send, after, got, tc.want)
				}
			}
			// A word without a line ending, then the client's half-close.
			if got, _ := askLate(t, addr, after, "standby", true); !strings.HasPrefix(got, "down ready #role primary") {
				t.Errorf("portable=%v unterminated standby then EOF: %q", portable, got)
			}
			// A word split across two writes.
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			time.Sleep(after)
			_, _ = io.WriteString(c, "stand")
			time.Sleep(after)
			_, _ = io.WriteString(c, "by\n")
			b, _ := io.ReadAll(c)
			c.Close()
			if !strings.HasPrefix(string(b), "down ready #role primary") {
				t.Errorf("portable=%v split word: %q", portable, b)
			}
		}
		// The last waiter leaves just after it has answered.
		deadline := time.Now().Add(10 * time.Second)
		for s.Stats().Waiting != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if st := s.Stats(); st.Waited == 0 || st.Waiting != 0 {
			t.Errorf("portable=%v stats %+v", portable, st)
		}
	}
}

// TestSilentClientGetsTheDefaultAfterTheWait: a client that never sends
// is answered for primary once SendWait is over, and never sooner than
// its word could still come.
func TestSilentClientGetsTheDefaultAfterTheWait(t *testing.T) {
	const wait = 100 * time.Millisecond
	s := &AgentServer{Snapshot: func() *checker.Snapshot { return snapshot(probe.Primary, "mirror_status 200 SUCCESS") },
		Logger: zerolog.Nop(), SendWait: wait}
	addr := serveWaiting(t, s, false)
	got, took := askLate(t, addr, 0, "", false)
	if got != "up ready 100%\n" {
		t.Fatalf("silent client: %q", got)
	}
	if took < wait-10*time.Millisecond {
		t.Fatalf("answered after %v, before the wait of %v", took, wait)
	}
	// A client that closes its side at once has nothing more to say: at once.
	got, took = askLate(t, addr, 0, "", true)
	if got != "up ready 100%\n" || took >= wait {
		t.Fatalf("client that half-closed: %q after %v", got, took)
	}
}

// TestWaitersAreBounded: beyond MaxWaiting, silent clients are answered at
// once (and counted), so they cannot pile up.
func TestWaitersAreBounded(t *testing.T) {
	const wait = 3 * time.Second
	s := &AgentServer{Snapshot: func() *checker.Snapshot { return snapshot(probe.Primary, "mirror_status 200 SUCCESS") },
		Logger: zerolog.Nop(), SendWait: wait, MaxWaiting: 2}
	addr := serveWaiting(t, s, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var quick int
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, took := askLate(t, addr, 0, "", false)
			if took < wait/2 {
				mu.Lock()
				quick++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if quick != 3 || s.Stats().Full != 3 {
		t.Fatalf("%d of 5 silent clients answered at once (want 3 beyond MaxWaiting 2); stats %+v", quick, s.Stats())
	}
}
