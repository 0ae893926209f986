package integration

import (
	"bufio"
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

	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// hostileConns is how many idle connections each slowloris case opens.
const hostileConns = 10000

// procStats reads a process's resident memory (now and peak, in KB) and
// open file descriptors.
func procStats(pid int) (rssKB, hwmKB, fds int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rssKB, _ = strconv.Atoi(f[1])
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			hwmKB, _ = strconv.Atoi(f[1])
		}
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return rssKB, hwmKB, len(ents)
}

// raiseNoFile lifts this process's soft descriptor limit to the hard one
// and returns how many connections a case may open.
func raiseNoFile(t *testing.T, want int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if room := int(lim.Cur) - 1000; room < want {
		t.Logf("RLIMIT_NOFILE %d: opening %d connections instead of %d", lim.Cur, room, want)
		return room
	}
	return want
}

// attackers are the client addresses hostile clients come from; the
// balancer checks from another one.
var attackers []string

// dialFrom dials addr from the i-th attacker address.
func dialFrom(i int, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(attackers[i%len(attackers)])}}
	return d.Dial("tcp", addr)
}

// openConns opens n connections to addr from 8 dialers, spread over the
// attacker addresses, writes first on each, and returns the ones that
// opened.
func openConns(addr string, n int, first []byte) []net.Conn {
	var mu sync.Mutex
	var conns []net.Conn
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				c, err := dialFrom(int(i), addr)
				if err != nil {
					continue
				}
				if len(first) > 0 {
					_, _ = c.Write(first)
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return conns
}

// flood connects to each addr from perAddr clients (attacker addresses
// 0 to perAddr-1) for d, at most max connections in all, and closes each
// at once. It returns the connections made, the connects refused, and how
// long each connect took.
func flood(addrs []string, perAddr int, d time.Duration, max int64) (made, refused int64, connects []itest.CheckSample) {
	var nMade, nRefused, tries atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for _, addr := range addrs {
		for g := range perAddr {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []itest.CheckSample
				for time.Now().Before(deadline) && tries.Add(1) <= max {
					at := time.Now()
					c, err := dialFrom(g, addr)
					mine = append(mine, itest.CheckSample{At: at, Took: time.Since(at), OK: err == nil, Err: err})
					switch {
					case err == nil:
						nMade.Add(1)
						c.Close()
					case errors.Is(err, syscall.ECONNREFUSED):
						nRefused.Add(1)
					}
				}
				mu.Lock()
				connects = append(connects, mine...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return nMade.Load(), nRefused.Load(), connects
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// stillOpen counts connections the agent has neither closed nor reset.
func stillOpen(conns []net.Conn) int {
	open := 0
	for _, c := range conns {
		if itest.Connected(c) {
			open++
		}
	}
	return open
}

type hostileRow struct {
	name                 string
	result               string
	httpP99, agentP99    time.Duration
	httpMax, agentMax    time.Duration
	checks               int
	peakFDs, peakRSSKB   int
	afterRSSKB, afterFDs int
}

// siege attacks one agent process from the test process while a separate
// process checks it as balancers do, from another address, and keeps a
// row per attack: the checks' latency, the agent's peak descriptors and
// memory, and what it holds after.
type siege struct {
	t                *testing.T
	a                *itest.Agent
	pid              int
	checkFrom        string
	baseFDs, baseHWM int
	// wantOK is what every legitimate check must answer (pass, or fail
	// while the member is not primary): answered either way.
	wantOK bool
	rows   []hostileRow
}

// newSiege measures the agent at rest and sets the attacker addresses:
// l.IP(10) to l.IP(17) attack, l.IP(2) checks.
func newSiege(t *testing.T, a *itest.Agent, l *itest.Loopback) *siege {
	pid := a.Proc.Cmd.Process.Pid
	_, hwm, fds := procStats(pid)
	attackers = nil
	for i := range 8 {
		attackers = append(attackers, l.IP(10+i))
	}
	return &siege{t: t, a: a, pid: pid, checkFrom: l.IP(2), baseFDs: fds, baseHWM: hwm, wantOK: true}
}

// attack runs one attack while the checks run and records its row.
func (s *siege) attack(name string, run func() string) {
	t := s.t
	t.Helper()
	checks := itest.StartCheckProcess(t, s.a.HTTPAddr(), s.a.AgentAddr(), s.checkFrom)
	time.Sleep(100 * time.Millisecond)
	peak := make(chan [2]int, 1)
	stop := make(chan struct{})
	go func() {
		var pf, pr int
		for {
			rss, _, fds := procStats(s.pid)
			pf, pr = max(pf, fds), max(pr, rss)
			select {
			case <-stop:
				peak <- [2]int{pf, pr}
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t0 := time.Now()
	result := run()
	t1 := time.Now()
	close(stop)
	pk := <-peak
	time.Sleep(20 * time.Millisecond)
	httpS, agentS := checks.Stop(t)
	if s.a.Proc.Exited() {
		t.Fatalf("%s: the agent died", name)
	}
	hl, al := itest.LatencyOf(httpS, t0, t1), itest.LatencyOf(agentS, t0, t1)
	for _, c := range append(httpS, agentS...) {
		if c.Err != nil || c.OK != s.wantOK {
			t.Errorf("%s: a legitimate check failed: ok=%v (want %v) %v", name, c.OK, s.wantOK, c.Err)
			break
		}
	}
	if hl.P99 > time.Second || al.P99 > time.Second { // the attack shares the 2 cores: a generous bound
		t.Errorf("%s: legitimate checks p99 HTTP %v, agent %v", name, hl.P99, al.P99)
	}
	time.Sleep(300 * time.Millisecond)
	rss, _, fds := procStats(s.pid)
	s.rows = append(s.rows, hostileRow{name: name, result: result, httpP99: hl.P99, agentP99: al.P99, httpMax: hl.Max, agentMax: al.Max,
		checks: hl.N + al.N, peakFDs: pk[0], peakRSSKB: pk[1], afterRSSKB: rss, afterFDs: fds})
}

// report writes the table (docs/reports/hostile.md with -report) and
// checks that the agent ended with the descriptors it started with and a
// bounded peak memory.
func (s *siege) report(title, intro string, maxRSSKB int) {
	t := s.t
	_, hwm, fds := procStats(s.pid)
	var b strings.Builder
	fmt.Fprintf(&b, "Agent at rest: %d descriptors, peak RSS before the attacks %.1f MB.\n\n", s.baseFDs, float64(s.baseHWM)/1024)
	b.WriteString("| hostile client | what happened | legitimate checks p99 (max) HTTP / agent-check | checks | agent peak descriptors | agent peak RSS | after |\n|---|---|---|---|---|---|---|\n")
	for _, r := range s.rows {
		fmt.Fprintf(&b, "| %s | %s | %s (%s) / %s (%s) | %d | %d | %.1f MB | %.1f MB, %d fds |\n", r.name, r.result, ms(r.httpP99), ms(r.httpMax), ms(r.agentP99), ms(r.agentMax),
			r.checks, r.peakFDs, float64(r.peakRSSKB)/1024, float64(r.afterRSSKB)/1024, r.afterFDs)
	}
	fmt.Fprintf(&b, "\nAgent after all attacks: %d descriptors, peak RSS %.1f MB.\n", fds, float64(hwm)/1024)
	itest.Report(t, "hostile.md", title, intro, b.String())
	if fds > s.baseFDs+10 {
		t.Errorf("the agent holds %d descriptors after the attacks, %d before", fds, s.baseFDs)
	}
	if hwm > maxRSSKB {
		t.Errorf("peak RSS %d KB: memory not bounded", hwm)
	}
}

// hostileAgent is the agent's probing under attack. The attacks take the
// machine's cores from the simulated member too, so a probe may take
// seconds: the timeout is far above that, and the member stays routable
// unless a probe fails outright (as when a flood took the agent's last
// descriptors), which is what these tests watch for. How fast a hang is
// noticed is the fault tests' subject, not these.
var hostileAgent = []string{"--interval", "250ms", "--timeout", "10s"}

// headerTimeout is the agent's limit for a request's headers
// (httpapi.NewServer's ReadHeaderTimeout).
const headerTimeout = 2 * time.Second

// TestHostileClients attacks the agent binary's HTTP and agent-check
// ports while balancers check it, and records the checks' latency, the
// agent's descriptors and memory, and that it survives.
func TestHostileClients(t *testing.T) {
	n := raiseNoFile(t, hostileConns)
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "hostile", l.IP(1), "primary")
	a := itest.StartAgent(t, m, hostileAgent...)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 10*time.Second)
	s := newSiege(t, a, l)
	pid, baseFDs := s.pid, s.baseFDs
	s.attack(fmt.Sprintf("HTTP: %d idle connections from 8 addresses (slowloris: half a request line, then nothing)", n), func() string {
		conns := openConns(a.HTTPAddr(), n, []byte("GET /primary HTTP/1.1\r\nHost: x"))
		defer closeAll(conns)
		_, _, fds := procStats(pid)
		if fds > httpapi.MaxConns+baseFDs+16 {
			t.Errorf("the agent holds %d descriptors with %d idle HTTP connections open: over its limit %d", fds, len(conns), httpapi.MaxConns)
		}
		// Each is cut 2 s (ReadHeaderTimeout) after the agent accepted it:
		// the agent's descriptors go back to what it had at rest.
		opened := time.Now()
		time.Sleep(2 * time.Second)
		for {
			_, _, fds := procStats(pid)
			if fds <= baseFDs+2 {
				break
			}
			if time.Since(opened) > 10*time.Second {
				t.Errorf("the agent still holds %d descriptors (%d at rest) 10 s after the idle connections opened", fds, baseFDs)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		// A client socket whose handshake the kernel completed while the
		// accept queue overflowed may never reach the agent (syncookies):
		// the client sees no close, the agent holds nothing.
		if n := stillOpen(conns); n > 0 {
			t.Logf("%d client sockets never reached the agent (accept queue overflow); the agent holds none", n)
		}
		return fmt.Sprintf("%d opened; the agent holds at most %d (%d per address), oldest idle closed first; all closed by the 2 s header timeout", len(conns), httpapi.MaxConns, httpapi.MaxConns/4)
	})

	s.attack("HTTP: 100 clients sending one header byte every 200 ms", func() string {
		conns := openConns(a.HTTPAddr(), 100, []byte("GET /primary HTTP/1.1\r\n"))
		defer closeAll(conns)
		start := time.Now()
		var cut atomic.Int64
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Cut at the header timeout after the agent accepted it;
				// a busy machine may accept late, so the client keeps
				// trickling for ten header timeouts before giving up.
				for time.Since(start) < 10*headerTimeout {
					if _, err := c.Write([]byte("X")); err != nil {
						cut.Add(int64(time.Since(start)))
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		if got := stillOpen(conns); got > 0 {
			t.Errorf("%d trickling clients were never cut", got)
		}
		return fmt.Sprintf("each cut after %v on average (ReadHeaderTimeout 2 s)", (time.Duration(cut.Load()) / 100).Round(10*time.Millisecond))
	})

	s.attack("HTTP: 50 requests with a 1 MB request line, 50 with 100 KB of headers, 10 at a time", func() string {
		codes := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		long := "GET /" + strings.Repeat("a", 1<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n"
		var hdrs strings.Builder
		hdrs.WriteString("GET /primary HTTP/1.1\r\nHost: x\r\n")
		for i := range 100 {
			fmt.Fprintf(&hdrs, "X-%d: %s\r\n", i, strings.Repeat("b", 1000))
		}
		hdrs.WriteString("\r\n")
		hdrReq := hdrs.String()
		sem := make(chan struct{}, 10)
		for i := range 100 {
			req := long
			if i%2 == 1 {
				req = hdrReq
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := dialFrom(i, a.HTTPAddr())
				if err != nil {
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				go func() { _, _ = io.WriteString(c, req) }() // the agent may answer before reading it all
				line, _ := bufio.NewReader(c).ReadString('\n')
				mu.Lock()
				codes[strings.TrimSpace(line)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes["HTTP/1.1 431 Request Header Fields Too Large"] != 100 {
			t.Errorf("oversized requests answered %v, want 431 for all 100", codes)
		}
		return fmt.Sprintf("answered %v", codes)
	})

	s.attack(fmt.Sprintf("agent-check: %d idle connections", n), func() string {
		conns := openConns(a.AgentAddr(), n, nil)
		defer closeAll(conns)
		time.Sleep(200 * time.Millisecond)
		replied := 0
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			if line == "up ready 100%\n" {
				replied++
			}
		}
		if replied != len(conns) {
			t.Errorf("%d of %d idle agent-check connections got their line", replied, len(conns))
		}
		return fmt.Sprintf("%d opened, each answered at once and closed", len(conns))
	})

	s.attack("agent-check: 2000 garbage and binary lines (1 B to 4 KB)", func() string {
		bad, wrong := 0, 0
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 2000 {
			junk := make([]byte, 1+rng.IntN(4096))
			for j := range junk {
				junk[j] = byte(rng.UintN(256))
			}
			if i%2 == 0 {
				junk[0] = 'Z' // never a check name
			}
			c, err := dialFrom(i, a.AgentAddr())
			if err != nil {
				bad++
				continue
			}
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			_, _ = c.Write(junk)
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil && line == "" {
				// A reply can be lost to the reset that closing with
				// unread bytes causes; it is the client's own doing.
				bad++
				continue
			}
			if !strings.HasPrefix(line, "down ready #unknown check ") && line != "up ready 100%\n" {
				wrong++
			}
		}
		if wrong > 0 {
			t.Errorf("%d garbage lines got a reply other than 'down ready #unknown check' or a check's answer", wrong)
		}
		return fmt.Sprintf("every reply one line (down ready #unknown check ...); %d replies lost to the client's own reset", bad)
	})

	s.attack("both ports: connection flood (4 clients each, connect and close, 3 s, at most 40000)", func() string {
		made, _, _ := flood([]string{a.HTTPAddr(), a.AgentAddr()}, 4, 3*time.Second, 40000)
		return fmt.Sprintf("%d connections in 3 s", made)
	})

	s.report("Hostile clients of the HTTP and agent-check ports", fmt.Sprintf("The agent binary at `%s`; attacks from eight loopback addresses, "+
		"the balancer checks (`/primary` and agent-check, every 5 ms, fresh connections) from another address in a separate process "+
		"(testbed/itest/checkload). Attackers and agent share the machine's cores.", strings.Join(hostileAgent, " ")), 200*1024)
}
