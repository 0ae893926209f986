package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/gate"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// noFileLimit reads a process's RLIMIT_NOFILE (soft).
func noFileLimit(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "Max open files") && len(f) >= 4 {
			n, err := strconv.Atoi(f[3])
			if err != nil {
				return 1 << 30 // unlimited
			}
			return n
		}
	}
	t.Fatalf("no open-file limit in /proc/%d/limits", pid)
	return 0
}

// wantSessionCap is the cap serve gives each of n gates: the default
// 4096, or what the agent's open-file limit holds (1280 descriptors kept
// for the agent itself).
func wantSessionCap(limit, n int) int {
	return min(gate.DefaultMaxSessions, gate.FitSessions(limit-min(limit/2, httpapi.MaxConns+256), n))
}

// endsWithin connects with dial and reports how long until the
// connection ended (a reset, an end of stream, or a connect refused or
// reset). A connection still open after d is an error: it was held.
func endsWithin(dial func() (net.Conn, error), d time.Duration) itest.CheckSample {
	at := time.Now()
	c, err := dial()
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
		// On loopback the reset can reach the client inside connect().
		return itest.CheckSample{At: at, Took: time.Since(at), OK: true}
	}
	if err != nil {
		return itest.CheckSample{At: at, Took: time.Since(at), Err: err}
	}
	defer c.Close()
	_ = c.SetReadDeadline(at.Add(d))
	_, err = io.Copy(io.Discard, c)
	if isTimeout(err) {
		return itest.CheckSample{At: at, Took: time.Since(at), Err: errors.New("held open")}
	}
	return itest.CheckSample{At: at, Took: time.Since(at), OK: true}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// logHas reports whether the process's log holds s.
func logHas(p *itest.Proc, s string) bool {
	b, _ := os.ReadFile(p.Log)
	return bytes.Contains(b, []byte(s))
}

// backToRest waits until the gate on listen holds no session and, after
// a burst of sessions (fds), the agent its resting descriptors again; it
// returns how long that took. After a few sessions, the pipes of their
// splices wait in Go's pool for the next ones.
func (s *siege) backToRest(listen string, fds bool) time.Duration {
	t := s.t
	t.Helper()
	start := time.Now()
	itest.WaitGate(t, s.a.HTTPAddr(), listen, 10*time.Second, "empty", func(g gate.Stats) bool { return g.OpenSessions == 0 })
	for fds {
		_, _, fds := procStats(s.pid)
		if fds <= s.baseFDs+4 {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("the agent holds %d descriptors (%d at rest) 10 s after the gate's sessions ended", fds, s.baseFDs)
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestGateHostileClients attacks the gates of the agent binary while the
// member is primary (the gates open) and then while it is not, with
// balancers checking the agent from a separate process, and records the
// checks' latency, the agent's descriptors and memory, and what each
// attacker got.
func TestGateHostileClients(t *testing.T) {
	n := raiseNoFile(t, hostileConns)
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "gatehostile", l.IP(1), "primary")
	hose := itest.StartFirehose(t, m.IP+":52790", 256<<20)
	ssGate, hoseGate := m.SuperServerGateAddr(), m.IP+":52775"
	a := itest.StartAgent(t, m, append(hostileAgent,
		"--gate", ssGate+"="+m.SuperServerAddr(), "--gate", hoseGate+"="+hose.Addr)...)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
	isOpen := func(g gate.Stats) bool { return g.State == "open" }
	itest.WaitGate(t, a.HTTPAddr(), ssGate, 5*time.Second, "open", isOpen)
	itest.WaitGate(t, a.HTTPAddr(), hoseGate, 5*time.Second, "open", isOpen)
	s := newSiege(t, a, l)
	limit := noFileLimit(t, s.pid)
	capN := itest.GateOf(t, a.HTTPAddr(), ssGate).MaxSessions
	if want := wantSessionCap(limit, 2); capN != want {
		t.Fatalf("gate max_sessions %d with RLIMIT_NOFILE %d and two gates, want %d", capN, limit, want)
	}
	capText := fmt.Sprintf("its cap, %d", capN)
	if capN < gate.DefaultMaxSessions {
		capText = fmt.Sprintf("its cap: %d lowered to %d by RLIMIT_NOFILE %d", gate.DefaultMaxSessions, capN, limit)
	}
	answer := m.Name + " primary\n" // the simulated SuperServer's reply to each line

	s.attack(fmt.Sprintf("gate: %d idle connections from 8 addresses (each a session to the SuperServer; nothing sent)", n), func() string {
		before := itest.GateOf(t, a.HTTPAddr(), ssGate)
		conns := openConns(ssGate, n, nil)
		itest.WaitGate(t, a.HTTPAddr(), ssGate, 10*time.Second, "full", func(g gate.Stats) bool { return g.OpenSessions >= capN })
		time.Sleep(300 * time.Millisecond) // connections the kernel still queues
		st := itest.GateOf(t, a.HTTPAddr(), ssGate)
		resetOver := st.OverLimit - before.OverLimit
		if st.OpenSessions != capN {
			t.Errorf("the gate holds %d sessions, its cap is %d", st.OpenSessions, capN)
		}
		if _, _, fds := procStats(s.pid); fds > s.baseFDs+capN*gate.DescriptorsPerSession+32 {
			t.Errorf("the agent holds %d descriptors with %d sessions: more than %d per session", fds, capN, gate.DescriptorsPerSession)
		}
		// A client (or target) that vanishes without a FIN or a reset is
		// found by TCP keepalive: both legs of every session have it.
		ka := 0
		for _, sk := range append(itest.Sockets(t, "established", "src", ssGate), itest.Sockets(t, "established", "dst", m.SuperServerAddr())...) {
			if sk.Keepalive {
				ka++
			}
		}
		if ka < 2*capN {
			t.Errorf("%d of the %d sessions' sockets run keepalive", ka, 2*capN)
		}
		// Over the cap, a connection is reset at once, never queued: a
		// queued one would wait for a slot, and the attackers hold every
		// slot until the attack ends, far longer than the window here.
		var over []itest.CheckSample
		for i := range 200 {
			over = append(over, endsWithin(func() (net.Conn, error) { return dialFrom(i, ssGate) }, 10*time.Second))
		}
		ol := itest.LatencyOf(over, time.Time{}, time.Time{})
		if ol.Errors > 0 {
			t.Errorf("over the cap: %d of 200 connections held or failed (%v), p99 %v until reset", ol.Errors, firstErr(over), ol.P99)
		}
		held := stillOpen(conns)
		if held != capN {
			// A handshake the kernel completed while the accept queue
			// overflowed may never reach the gate (syncookies).
			t.Logf("%d client sockets still open, %d of them never reached the gate", held, held-capN)
		}
		closeAll(conns)
		back := s.backToRest(ssGate, true)
		return fmt.Sprintf("the gate held %d (%s) and reset the other %d at once (%d of them inside connect); 200 more connects while full: each reset %s after it began (p99; max %s), none queued; keepalive on both legs of every session; the agent back to %d descriptors %s after the clients left",
			capN, capText, resetOver, n-len(conns), ms(ol.P99), ms(ol.Max), s.baseFDs, ms(back))
	})

	s.attack("gate: connection flood (4 clients connect and close at once, 1 s, at most 20000)", func() string {
		before := itest.GateOf(t, a.HTTPAddr(), ssGate)
		made, _, _ := flood([]string{ssGate}, 4, time.Second, 20000)
		back := s.backToRest(ssGate, true)
		after := itest.GateOf(t, a.HTTPAddr(), ssGate)
		return fmt.Sprintf("%d connections in 1 s: %d sessions to the SuperServer, all ended; the agent back to its resting descriptors %s after", made, after.Sessions-before.Sessions, ms(back))
	})

	s.attack("gate: 1000 connections sending garbage and binary (1 B to 4 KB), then half-closing, 8 at a time", func() string {
		var wrong, lines atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var took []itest.CheckSample
		work := make(chan int)
		noise := make([]byte, 1<<20)
		_, _ = rand.NewChaCha8([32]byte{3}).Read(noise)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					rng := rand.New(rand.NewPCG(uint64(i), 3))
					size := 1 + rng.IntN(4096)
					at := rng.IntN(len(noise) - size)
					junk := noise[at : at+size]
					want := strings.Repeat(answer, bytes.Count(junk, []byte("\n")))
					c, err := dialFrom(i, ssGate)
					if err != nil {
						wrong.Add(1)
						continue
					}
					began := time.Now()
					_ = c.SetDeadline(began.Add(3 * time.Second))
					_, _ = c.Write(junk)
					_ = c.(*net.TCPConn).CloseWrite()
					got, err := io.ReadAll(c)
					c.Close()
					mu.Lock()
					took = append(took, itest.CheckSample{At: began, Took: time.Since(began)})
					mu.Unlock()
					if err != nil || string(got) != want {
						wrong.Add(1)
					}
					lines.Add(int64(strings.Count(want, "\n")))
				}
			}()
		}
		for i := range 1000 {
			work <- i
		}
		close(work)
		wg.Wait()
		if wrong.Load() > 0 {
			t.Errorf("%d of 1000 garbage sessions did not get the SuperServer's answers byte for byte", wrong.Load())
		}
		s.backToRest(ssGate, false)
		tl := itest.LatencyOf(took, time.Time{}, time.Time{})
		return fmt.Sprintf("forwarded byte for byte: every line answered (%d answers), every half-close passed on, every session ended (%s p50, %s p99 from connect to the end)", lines.Load(), ms(tl.P50), ms(tl.P99))
	})

	s.attack("gate: 8 slow readers (a TARGET sends up to 256 MB each; the clients never read)", func() string {
		from := hose.Conns()
		rssBefore, _, _ := procStats(s.pid)
		conns := openConns(hoseGate, 8, nil)
		for deadline := time.Now().Add(5 * time.Second); hose.Conns() < from+len(conns) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // the gate dials TARGET for each
		}
		sent, stalled := hose.Stalled(from, 300*time.Millisecond, 10*time.Second)
		if !stalled || len(sent) != len(conns) {
			t.Errorf("TARGET still sending after 10 s (%d of %d connections): %v", len(sent), len(conns), sent)
		}
		var total, most int64
		for _, b := range sent {
			total += b
			most = max(most, b)
			if b >= hose.Limit {
				t.Errorf("a slow reader's TARGET sent all %d bytes: the gate buffered them", b)
			}
		}
		unread, _ := itest.Queued(itest.Sockets(t, "established", "dst", hoseGate))
		_, gateOut := itest.Queued(itest.Sockets(t, "established", "src", hoseGate))
		gateIn, _ := itest.Queued(itest.Sockets(t, "established", "dst", hose.Addr))
		_, unsent := itest.Queued(itest.Sockets(t, "established", "src", hose.Addr))
		rss, _, _ := procStats(s.pid)
		grew := max(0, float64(rss-rssBefore)/1024)
		if grew > 16 {
			t.Errorf("the agent's RSS grew %.1f MB with 8 slow readers", grew)
		}
		closeAll(conns)
		s.backToRest(hoseGate, false)
		k := float64(len(sent))
		mb := func(b int64) float64 { return float64(b) / k / (1 << 20) }
		return fmt.Sprintf("TARGET stalled after %.1f MB per session (max %.1f MB of 256 MB): %.1f MB unsent at TARGET, %.1f MB in the gate's receive buffer from TARGET, %.1f MB in its send buffer to the client, %.1f MB unread at the client, about %.1f MB in the gate's splice pipe (1 MB at most); all kernel socket buffers: the agent's RSS grew %.1f MB",
			mb(total), float64(most)/(1<<20), mb(unsent), mb(gateIn), mb(gateOut), mb(unread), mb(total-unread-gateOut-gateIn-unsent), grew)
	})

	s.attack("gate: 1000 half-closed sessions (a line sent, write side shut; never read, never closed)", func() string {
		before := itest.GateOf(t, a.HTTPAddr(), ssGate)
		conns := openConns(ssGate, 1000, []byte("who\n"))
		itest.WaitGate(t, a.HTTPAddr(), ssGate, 10*time.Second, "all admitted", func(g gate.Stats) bool { return g.Sessions-before.Sessions >= uint64(len(conns)) })
		for _, c := range conns {
			_ = c.(*net.TCPConn).CloseWrite()
		}
		_, ended := itest.WaitGate(t, a.HTTPAddr(), ssGate, 10*time.Second, "empty", func(g gate.Stats) bool { return g.OpenSessions == 0 })
		got := 0
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if b, err := io.ReadAll(c); err == nil && string(b) == answer {
				got++
			}
		}
		closeAll(conns)
		if got != len(conns) {
			t.Errorf("%d of %d half-closed clients read the answer and the end of the stream", got, len(conns))
		}
		s.backToRest(ssGate, true)
		return fmt.Sprintf("every session ended %s after the clients' half-close (the SuperServer answered and closed its side; the gate passed both on) while the clients kept their sockets; each read its answer and the end", ms(ended))
	})

	m.Set(t, "backup")
	itest.WaitRefused(t, ssGate, 5*time.Second)
	before := itest.GateOf(t, a.HTTPAddr(), ssGate)
	s.wantOK = false // the checks answer "not primary" now
	s.attack("gate closed (member backup): connection flood against its port (4 clients, 1 s, at most 20000)", func() string {
		made, refused, connects := flood([]string{ssGate}, 4, time.Second, 20000)
		after := itest.GateOf(t, a.HTTPAddr(), ssGate)
		if made > 0 || after.Sessions != before.Sessions || after.State != "closed" {
			t.Errorf("a closed gate accepted %d connections (%d sessions)", made, after.Sessions-before.Sessions)
		}
		cl := itest.LatencyOf(connects, time.Time{}, time.Time{})
		return fmt.Sprintf("%d connects, %d refused (connection refused in %s p99, max %s), none accepted", len(connects), refused, ms(cl.P99), ms(cl.Max))
	})
	s.wantOK = true

	if logHas(a.Proc, "too many open files") {
		t.Errorf("the agent ran out of descriptors:\n%s", itest.Tail(a.Proc.Log, 20))
	}
	s.report("Hostile clients of the gates", fmt.Sprintf("The agent binary at `%s` with two gates (`:1973` in front of the simulated "+
		"SuperServer, which answers each line with `<member> <state>`; `:52775` in front of a TARGET that sends up to 256 MB a connection, "+
		"itest.Firehose); attacks from eight loopback addresses, the checks from another, in a separate process. "+
		"Each gate's session cap is what the agent's `RLIMIT_NOFILE` holds (see docs/reliability.md).", strings.Join(hostileAgent, " ")), 256*1024)
}

// TestGateCapFitsOpenFileLimit runs the agent with RLIMIT_NOFILE 4096
// and fills its gate with idle sessions: the cap is lowered at start so
// that the sessions cannot take the descriptors the agent's probes and
// ports need (regression: the probes failed with EMFILE, the member turned
// not routable and the gates cut every session).
func TestGateCapFitsOpenFileLimit(t *testing.T) {
	const limit = 4096
	raiseNoFile(t, 3000)
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "gatecap", l.IP(1), "primary")
	ssGate := m.SuperServerGateAddr()
	a := itest.StartAgentWrapped(t, m, nil, itest.NoFileLimit(t, limit), append(hostileAgent,
		"--gate", ssGate+"="+m.SuperServerAddr())...)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
	st, _ := itest.WaitGate(t, a.HTTPAddr(), ssGate, 5*time.Second, "open", func(g gate.Stats) bool { return g.State == "open" })
	want := wantSessionCap(limit, 1)
	if st.MaxSessions != want || !logHas(a.Proc, `"lowered_to":`+strconv.Itoa(want)) {
		t.Fatalf("max_sessions %d with RLIMIT_NOFILE %d, want %d and a warning:\n%s", st.MaxSessions, limit, want, itest.Tail(a.Proc.Log, 5))
	}
	s := newSiege(t, a, l)
	s.attack(fmt.Sprintf("gate, agent at RLIMIT_NOFILE %d: 2000 idle connections", limit), func() string {
		conns := openConns(ssGate, 2000, nil)
		itest.WaitGate(t, a.HTTPAddr(), ssGate, 10*time.Second, "full", func(g gate.Stats) bool { return g.OpenSessions >= want })
		time.Sleep(500 * time.Millisecond) // two probe rounds with the gate full
		_, _, fds := procStats(s.pid)
		closeAll(conns)
		s.backToRest(ssGate, true)
		return fmt.Sprintf("--gate-max-sessions 4096 lowered to %d at start; the gate held %d sessions, the agent %d of its %d descriptors; probes and checks unaffected", want, want, fds, limit)
	})
	if logHas(a.Proc, "too many open files") {
		t.Errorf("the agent ran out of descriptors:\n%s", itest.Tail(a.Proc.Log, 20))
	}
	if logHas(a.Proc, `"routable":false`) {
		t.Errorf("the member turned not routable while the gate was full:\n%s", itest.Tail(a.Proc.Log, 20))
	}
	s.report("A gate at a low open-file limit", fmt.Sprintf("The agent binary at `%s`, one gate, `RLIMIT_NOFILE` %d: the cap is lowered at start to %d.",
		strings.Join(hostileAgent, " "), limit, want), 128*1024)
}
