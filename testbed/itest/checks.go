package itest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

// CheckSample is one balancer check: when it started, how long the whole
// exchange took (connect to close), and whether it passed.
type CheckSample struct {
	At   time.Time
	Took time.Duration
	OK   bool
	Err  error
}

// BalancerChecks asks an agent the way balancers do, each on a fresh
// connection: `GET /primary HTTP/1.0` on the HTTP port (200 passes) and
// `primary\n` on the agent-check port (`up` passes), one at a time per
// port, every Every, until stopped or for at most the duration given to
// Start.
type BalancerChecks struct {
	HTTPAddr, AgentAddr string        // either may be empty
	Every               time.Duration // pause between checks (default 5ms)
	TLS                 *tls.Config   // HTTPS on the HTTP port
	Timeout             time.Duration // per check (default 2s)
	// Dial opens connections, such as inside a network namespace. Like
	// haproxy's, it should delay the handshake's last ACK so the request
	// rides on it (haproxyclient.DelayHandshakeACK), as the default does: the
	// agent-check port answers what has arrived when it accepts.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu          sync.Mutex
	http, agent []CheckSample
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// Start begins checking in the background for at most max.
func (b *BalancerChecks) Start(max time.Duration) {
	if b.Every == 0 {
		b.Every = 5 * time.Millisecond
	}
	if b.Timeout == 0 {
		b.Timeout = 2 * time.Second
	}
	if b.Dial == nil {
		b.Dial = (&net.Dialer{Control: haproxyclient.DelayHandshakeACK}).DialContext
	}
	ctx, cancel := context.WithTimeout(context.Background(), max)
	b.cancel = cancel
	loop := func(addr string, ask func(context.Context, string) (bool, error), into *[]CheckSample) {
		defer b.wg.Done()
		for ctx.Err() == nil {
			at := time.Now()
			cctx, ccancel := context.WithTimeout(ctx, b.Timeout)
			ok, err := ask(cctx, addr)
			ccancel()
			if ctx.Err() != nil {
				return // cut by Stop: not a measurement
			}
			s := CheckSample{At: at, Took: time.Since(at), OK: ok, Err: err}
			b.mu.Lock()
			*into = append(*into, s)
			b.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(b.Every):
			}
		}
	}
	if b.HTTPAddr != "" {
		b.wg.Add(1)
		go loop(b.HTTPAddr, b.askHTTP, &b.http)
	}
	if b.AgentAddr != "" {
		b.wg.Add(1)
		go loop(b.AgentAddr, b.askAgent, &b.agent)
	}
}

// WaitPassed waits, at most d, until every configured loop has a check
// that started at or after since and passed: call it before Stop when the
// samples must show the agent routable again (Stop drops a check in
// flight, so a check that saw it may otherwise never be recorded).
func (b *BalancerChecks) WaitPassed(since time.Time, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		_, httpOK := FirstAfter(b.HTTP(), since, true)
		_, agentOK := FirstAfter(b.Agent(), since, true)
		if (httpOK || b.HTTPAddr == "") && (agentOK || b.AgentAddr == "") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// Stop ends checking and waits for the loops.
func (b *BalancerChecks) Stop() {
	b.cancel()
	b.wg.Wait()
}

// HTTP returns the HTTP checks so far.
func (b *BalancerChecks) HTTP() []CheckSample {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.http)
}

// Agent returns the agent-checks so far.
func (b *BalancerChecks) Agent() []CheckSample {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.agent)
}

func (b *BalancerChecks) exchange(ctx context.Context, addr string, useTLS bool, send string) (string, error) {
	c, err := b.Dial(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if useTLS && b.TLS != nil {
		conf := b.TLS
		if conf.ServerName == "" {
			conf = conf.Clone()
			conf.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(c, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return "", err
		}
		c = tc
	}
	if _, err := io.WriteString(c, send); err != nil {
		return "", err
	}
	out, err := io.ReadAll(io.LimitReader(c, 64<<10))
	return string(out), err
}

func (b *BalancerChecks) askHTTP(ctx context.Context, addr string) (bool, error) {
	out, err := b.exchange(ctx, addr, true, "GET /primary HTTP/1.0\r\n\r\n")
	if err != nil {
		return false, err
	}
	return strings.HasPrefix(out, "HTTP/1.0 200 ") || strings.HasPrefix(out, "HTTP/1.1 200 "), nil
}

func (b *BalancerChecks) askAgent(ctx context.Context, addr string) (bool, error) {
	out, err := b.exchange(ctx, addr, false, "primary\n")
	if err != nil {
		return false, err
	}
	return strings.HasPrefix(out, "up "), nil
}

// Latency sums up checks started in [from, to): how many, how many failed
// to get any answer, and the 50th and 99th percentiles and maximum of
// their duration.
type Latency struct {
	N, Errors     int
	P50, P99, Max time.Duration
}

// LatencyOf sums up samples started in [from, to); a zero to means open.
func LatencyOf(samples []CheckSample, from, to time.Time) Latency {
	var d []time.Duration
	var l Latency
	for _, s := range samples {
		if s.At.Before(from) || (!to.IsZero() && !s.At.Before(to)) {
			continue
		}
		if s.Err != nil {
			l.Errors++
		}
		d = append(d, s.Took)
	}
	l.N = len(d)
	if l.N == 0 {
		return l
	}
	slices.Sort(d)
	l.P50 = d[l.N/2]
	l.P99 = d[min(l.N-1, l.N*99/100)]
	l.Max = d[l.N-1]
	return l
}

// FirstAfter returns how long after t the first check started that
// answered ok (pass or fail as asked), and whether there was one.
func FirstAfter(samples []CheckSample, t time.Time, ok bool) (time.Duration, bool) {
	for _, s := range samples {
		if !s.At.Before(t) && s.Err == nil && s.OK == ok {
			return s.At.Sub(t), true
		}
	}
	return 0, false
}

// LastPassedAfter returns how long after t the last check started that
// passed (and before until, if set), and whether one did. An agent's
// answer holds for its lease from the start of the probe round behind
// it, so no check started a lease after a fault began may pass: a bound
// that does not depend on how often a busy machine let the checks run.
func LastPassedAfter(samples []CheckSample, t, until time.Time) (time.Duration, bool) {
	var last time.Duration
	found := false
	for _, s := range samples {
		if s.At.Before(t) || (!until.IsZero() && !s.At.Before(until)) || s.Err != nil || !s.OK {
			continue
		}
		last, found = s.At.Sub(t), true
	}
	return last, found
}

// CheckReport carries samples out of the checkload process.
type CheckReport struct {
	HTTP, Agent []ExportedSample
}

// ExportedSample is a CheckSample in JSON.
type ExportedSample struct {
	At   int64  `json:"at"`   // Unix nanoseconds
	Took int64  `json:"took"` // nanoseconds
	OK   bool   `json:"ok"`
	Err  string `json:"err,omitempty"`
}

// Export converts samples for CheckReport.
func Export(s []CheckSample) []ExportedSample {
	out := make([]ExportedSample, len(s))
	for i, x := range s {
		out[i] = ExportedSample{At: x.At.UnixNano(), Took: int64(x.Took), OK: x.OK}
		if x.Err != nil {
			out[i].Err = x.Err.Error()
		}
	}
	return out
}

func importSamples(s []ExportedSample) []CheckSample {
	out := make([]CheckSample, len(s))
	for i, x := range s {
		out[i] = CheckSample{At: time.Unix(0, x.At), Took: time.Duration(x.Took), OK: x.OK}
		if x.Err != "" {
			out[i].Err = errors.New(x.Err)
		}
	}
	return out
}

// CheckProcess is a checkload process asking an agent.
type CheckProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
	done  chan error
}

var (
	checkloadOnce sync.Once
	checkloadBin  string
	checkloadErr  error
)

// StartCheckProcess runs balancer checks against an agent from a separate
// process, from source address from (empty: any).
func StartCheckProcess(t testing.TB, httpAddr, agentAddr, from string) *CheckProcess {
	t.Helper()
	agentBin, _ := Binaries(t) // their directory is removed by Main
	checkloadOnce.Do(func() {
		checkloadBin = filepath.Join(filepath.Dir(agentBin), "checkload")
		cmd := exec.Command("go", "build", "-o", checkloadBin, "./testbed/itest/checkload")
		cmd.Dir = Root(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			checkloadErr = fmt.Errorf("go build checkload: %v\n%s", err, out)
		}
	})
	if checkloadErr != nil {
		t.Fatal(checkloadErr)
	}
	p := &CheckProcess{done: make(chan error, 1)}
	p.cmd = exec.Command(checkloadBin, "-http", httpAddr, "-agent", agentAddr, "-from", from)
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = os.Stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stdin.Close(); <-p.done })
	return p
}

// Stop ends the checks and returns their samples.
func (p *CheckProcess) Stop(t testing.TB) (httpS, agentS []CheckSample) {
	t.Helper()
	p.stdin.Close()
	if err := <-p.done; err != nil {
		t.Fatalf("checkload: %v", err)
	}
	p.done <- nil // for the cleanup
	var r CheckReport
	if err := json.Unmarshal(p.out.Bytes(), &r); err != nil {
		t.Fatalf("checkload output: %v", err)
	}
	return importSamples(r.HTTP), importSamples(r.Agent)
}
