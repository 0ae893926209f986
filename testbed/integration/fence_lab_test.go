package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/fence"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// The agent's timing in the fence tests: every bound derives from these.
const (
	fenceInterval = 100 * time.Millisecond
	fenceTimeout  = 300 * time.Millisecond
)

// fenceLab is a simulated member (irissim) and the agent binary with
// --fence 1972,52773 in the member's network namespace, and a client in
// another namespace, joined by a veth pair: the kernel's nftables and
// inet_diag are the real ones, the host's are never touched.
type fenceLab struct {
	t             *testing.T
	p             *itest.NetPair
	inM, inC      *itest.Netns
	agentBin      string
	agent         *itest.Proc
	http          *http.Client // inside the member's namespace
	superServer   string       // the member's SuperServer as the client reaches it
	web           string
	mirrorStatus  string   // --mirror-status-url
	wrap          []string // runs the agent (such as setpriv ... --)
	agentStarting time.Time
}

func newFenceLab(t *testing.T, state string) *fenceLab {
	t.Helper()
	p := itest.RequireNetns(t)
	itest.RequireTool(t, "nft")
	agentBin, sim := itest.Binaries(t)
	l := &fenceLab{t: t, p: p, inM: itest.EnterNetns(t, p.Member), inC: itest.EnterNetns(t, p.Agent), agentBin: agentBin,
		superServer: p.MemberIP + ":1972", web: p.MemberIP + ":52773",
		mirrorStatus: "http://127.0.0.1:52773/csp/mirror_status.cxw"}
	l.http = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: l.inM.DialContext, DisableKeepAlives: true, Proxy: nil}}
	itest.Start(t, "irissim-fence", nil, p.Exec(p.Member, sim, "serve", "--name", "ap1a", "--state", state,
		"--web", ":52773", "--superserver", ":1972", "--control", "127.0.0.1:52780")...)
	waitDial(t, l.inM, "127.0.0.1:52780")
	return l
}

// start runs the agent in the member's namespace, extra settings last.
func (l *fenceLab) start(extra ...string) *itest.Proc {
	l.t.Helper()
	argv := append([]string{l.agentBin, "serve", "--member", "ap1a",
		"--mirror-status-url", l.mirrorStatus, "--superserver", "127.0.0.1:1972",
		"--http-listen", "127.0.0.1:9797", "--agent-listen", "127.0.0.1:9798", "--log-format", "json",
		"--shutdown-delay", "0s", "--interval", fenceInterval.String(), "--timeout", fenceTimeout.String(),
		"--fence", "1972,52773"}, extra...)
	argv = append(append([]string(nil), l.wrap...), argv...)
	l.agentStarting = time.Now()
	l.agent = itest.Start(l.t, "agent-fence", nil, l.p.Exec(l.p.Member, argv...)...)
	waitDial(l.t, l.inM, "127.0.0.1:9797")
	return l.agent
}

// set changes the simulated member's state.
func (l *fenceLab) set(state string) {
	l.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:52780/state", strings.NewReader(state))
	resp, err := l.http.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.t.Fatalf("set %s: %s", state, resp.Status)
	}
}

// fenceStatus is the part of /status the fence tests read.
type fenceStatus struct {
	Role     string
	Routable bool
	Fence    fence.Stats
}

func (l *fenceLab) status() (fenceStatus, error) {
	var st fenceStatus
	resp, err := l.http.Get("http://127.0.0.1:9797/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// waitFence waits until /status shows the fence in state with a verdict
// (not the start's "no verdict yet").
func (l *fenceLab) waitFence(state string, d time.Duration) fenceStatus {
	l.t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, err := l.status()
		if err == nil && st.Fence.State == state && !strings.HasPrefix(st.Fence.Reason, "starting") {
			return st
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("fence not %s within %v: %+v, %v", state, d, st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// who asks the SuperServer through addr from ns: nil when it answered.
func who(ns *itest.Netns, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := ns.DialWith(ctx, nil, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "who\n"); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// sessions opens k SuperServer sessions from the client's namespace.
func (l *fenceLab) sessions(k int) []net.Conn {
	l.t.Helper()
	var out []net.Conn
	for range k {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := l.inC.DialWith(ctx, nil, "tcp", l.superServer)
		cancel()
		if err != nil {
			l.t.Fatal(err)
		}
		l.t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c, "who\n"); err != nil {
			l.t.Fatal(err)
		}
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			l.t.Fatal(err)
		}
		_ = c.SetDeadline(time.Time{})
		out = append(out, c)
	}
	return out
}

// alive reports whether a session still answers.
func alive(c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(time.Second))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := io.WriteString(c, "who\n"); err != nil {
		return false
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err == nil
}

// until polls cond every 2 ms for up to d and returns how long after t0
// it first held, or -1.
func until(t0 time.Time, d time.Duration, cond func() bool) time.Duration {
	for time.Since(t0) < d {
		if cond() {
			return time.Since(t0)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return -1
}

// cutTimes waits for every session to be reset and returns the latest
// reset's time after t0 (-1 if one outlived d, or ended otherwise).
func cutTimes(conns []net.Conn, t0 time.Time, d time.Duration) (first, last time.Duration) {
	first, last = -1, 0
	ends := make(chan time.Duration, len(conns))
	for _, c := range conns {
		go func() {
			_ = c.SetReadDeadline(t0.Add(d))
			_, err := c.Read(make([]byte, 64))
			if !errors.Is(err, syscall.ECONNRESET) {
				ends <- -1
				return
			}
			ends <- time.Since(t0)
		}()
	}
	for range conns {
		e := <-ends
		if e < 0 {
			return -1, -1
		}
		if first < 0 || e < first {
			first = e
		}
		last = max(last, e)
	}
	return first, last
}

// nft runs the real nft in the member's namespace.
func (l *fenceLab) nft(args ...string) (string, error) {
	argv := l.p.Exec(l.p.Member, append([]string{itest.RequireTool(l.t, "nft")}, args...)...)
	return itest.Run(argv, nil, 10*time.Second)
}

// fenceCmd runs `iris-mirror-agent fence ...` in the member's namespace.
func (l *fenceLab) fenceCmd(args ...string) (string, error) {
	return itest.Run(l.p.Exec(l.p.Member, append([]string{l.agentBin, "fence"}, args...)...), nil, 10*time.Second)
}

// agentLog is the agent's log so far.
func (l *fenceLab) agentLog() string {
	b, _ := os.ReadFile(l.agent.Log)
	return string(b)
}
