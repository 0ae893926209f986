package gate

import (
	"net"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/testbed/syncbuf"
)

func TestFitSessions(t *testing.T) {
	for _, c := range []struct{ budget, n, want int }{
		{18720, 2, 1560}, // RLIMIT_NOFILE 20000, 1280 kept for the agent
		{64256, 2, 5354},
		{100, 1, 16},
		{5, 2, 1}, // never 0: a gate that could hold nothing would reset everyone
		{100, 0, 0},
	} {
		if got := FitSessions(c.budget, c.n); got != c.want {
			t.Errorf("FitSessions(%d, %d) = %d, want %d", c.budget, c.n, got, c.want)
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestSessionDescriptors holds idle sessions open and counts the process's
// descriptors: DescriptorsPerSession must cover what a session holds (its
// two sockets and a splice pipe per direction), or the cap serve derives
// from RLIMIT_NOFILE would let a flood exhaust the agent's descriptors.
// When the sessions have ended the descriptors must come back without
// waiting for the runtime's own garbage collection (regression: the splice
// pipes of 300 ended sessions stayed open in Go's pipe pool).
func TestSessionDescriptors(t *testing.T) {
	const n = reclaimAfter + 44
	// An echo that copies through a buffer: io.Copy between sockets would
	// hold a splice pipe of the test's own.
	srv := startServer(t, func(c *net.TCPConn) {
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr()})
	addr := openGate(t, g)
	// Let the first sessions' goroutines and the server settle first.
	admitted(t, addr).Close()
	waitFor(t, func() bool { return g.Stats().OpenSessions == 0 }, "the warm-up session gone")
	// The agent allocates little, so its collector may not run for
	// minutes after a flood; here it runs only when the gate asks.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	base := openFDs(t)

	conns := make([]net.Conn, 0, n)
	for range n {
		c := admitted(t, addr) // a round trip: both directions have spliced, and now wait
		conns = append(conns, c)
	}
	waitFor(t, func() bool { return g.Stats().OpenSessions == n }, "every session admitted")
	held := openFDs(t) - base
	// Each session here is also the test's client socket and the server's.
	perSession := float64(held)/n - 2
	t.Logf("%d idle sessions: %d descriptors, %.2f per session beside the test's two", n, held, perSession)
	if perSession > DescriptorsPerSession {
		t.Errorf("an idle session holds %.2f descriptors, more than DescriptorsPerSession (%d)", perSession, DescriptorsPerSession)
	}

	for _, c := range conns {
		c.Close()
	}
	start := time.Now()
	for {
		now := openFDs(t)
		if now <= base+2 {
			t.Logf("back to %d descriptors (%d before) %v after the clients closed", now, base, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > reclaimDelay+4*time.Second {
			t.Fatalf("%d descriptors %v after every session ended, %d before: the splice pipes are still held", now, time.Since(start), base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFullGateLogsOnce keeps a gate full while one session churns, so
// each new connection finds a free slot or none in turn: the log must say
// "gate full" once, not once per churn (regression: a freed slot re-armed
// the line, so a client could write a log line per connection).
func TestFullGateLogsOnce(t *testing.T) {
	srv := startServer(t, echo)
	log := &syncbuf.Buffer{}
	g := startGate(t, Config{Listen: "127.0.0.1:0", Target: srv.addr(), MaxSessions: 2, Logger: zerolog.New(log)})
	addr := openGate(t, g)
	admitted(t, addr)
	churn := admitted(t, addr)
	for i := range 30 {
		dialReset(t, addr, 2*time.Second)
		churn.Close()
		waitFor(t, func() bool { return g.Stats().OpenSessions == 1 }, "a slot free")
		churn = admitted(t, addr)
		if i == 0 {
			waitFor(t, func() bool { return strings.Contains(log.String(), "gate full") }, "the first 'gate full' line")
		}
	}
	if st := g.Stats(); st.OverLimit != 30 {
		t.Fatalf("%d connections reset over the limit, want 30", st.OverLimit)
	}
	if n := strings.Count(log.String(), "gate full"); n != 1 {
		t.Fatalf("'gate full' logged %d times for 30 refusals:\n%s", n, log.String())
	}
}
