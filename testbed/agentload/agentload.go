// Package agentload is the load client of the benchmark suite: it plays
// balancers checking a member, one TCP connection per check as haproxy's
// agent-check and httpchk do, and measures each check's latency.
//
// Every run is bounded in count and duration, and only loopback targets
// are accepted: this is a measuring tool, never a load generator against
// another machine.
package agentload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

// Kind is the protocol of one check.
type Kind string

const (
	// Agent sends Send (haproxy's agent-send) and reads one line.
	Agent Kind = "agent"
	// HTTP sends "GET <Send> HTTP/1.0" and reads the status line, as
	// haproxy's httpchk does.
	HTTP Kind = "http"
)

// Limits every run obeys, whatever the options say.
const (
	MaxDuration = 10 * time.Minute
	MaxChecks   = 50_000_000
	MaxWorkers  = 4096
)

// Options describes one run.
type Options struct {
	Addr    string // host:port; the host must be a loopback IP or localhost
	Kind    Kind
	Send    string // Agent: the line sent ("" sends nothing); HTTP: the path
	Expect  string // reply line (Agent) or status code (HTTP) that counts as success; "" accepts any
	Workers int    // concurrent checkers (simulated balancers, or connections)
	// Pacing: Every is each worker's period (a balancer's check interval);
	// else Rate spreads that many checks per second over the workers; with
	// neither, each worker checks again as soon as one ends (closed loop).
	Every     time.Duration
	Rate      float64
	Duration  time.Duration // stop after this long (required, at most MaxDuration)
	MaxChecks int           // stop after this many checks (0: MaxChecks)
	Timeout   time.Duration // one check's deadline (0: 2s)
}

// Result is what a run measured. Latencies cover connect to reply.
type Result struct {
	Checks  int           `json:"checks"`
	Errors  int           `json:"errors"`
	Elapsed time.Duration `json:"elapsed_ns"`
	PerSec  float64       `json:"per_sec"`
	P50     time.Duration `json:"p50_ns"`
	P90     time.Duration `json:"p90_ns"`
	P99     time.Duration `json:"p99_ns"`
	Max     time.Duration `json:"max_ns"`
	LastErr string        `json:"last_error,omitempty"`
	// ErrorKinds counts errors by message, addresses left out (at most 8 kinds).
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	Unwanted   string         `json:"unexpected_reply,omitempty"` // one reply that did not match Expect
}

// Validate checks the options and fills defaults.
func (o *Options) Validate() error {
	if err := RequireLoopback(o.Addr); err != nil {
		return fmt.Errorf("addr %q: %w", o.Addr, err)
	}
	switch o.Kind {
	case Agent:
	case HTTP:
		if !strings.HasPrefix(o.Send, "/") || strings.ContainsAny(o.Send, " \r\n") {
			return fmt.Errorf("send %q: an HTTP check needs a path such as /primary", o.Send)
		}
	default:
		return fmt.Errorf("kind %q: want agent or http", o.Kind)
	}
	if o.Workers < 1 || o.Workers > MaxWorkers {
		return fmt.Errorf("workers %d: want 1 to %d", o.Workers, MaxWorkers)
	}
	if o.Duration <= 0 || o.Duration > MaxDuration {
		return fmt.Errorf("duration %v: want more than 0 and at most %v", o.Duration, MaxDuration)
	}
	if o.MaxChecks <= 0 || o.MaxChecks > MaxChecks {
		o.MaxChecks = MaxChecks
	}
	if o.Every < 0 || o.Rate < 0 {
		return errors.New("every and rate must not be negative")
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	return nil
}

// RequireLoopback accepts host:port whose host is a loopback IP literal
// (127.0.0.0/8, ::1) or "localhost".
func RequireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return errors.New("only loopback targets (127.0.0.0/8, ::1, localhost) are allowed")
	}
	return nil
}

// period is the time between two checks of one worker (0: closed loop).
func (o *Options) period() time.Duration {
	switch {
	case o.Every > 0:
		return o.Every
	case o.Rate > 0:
		return time.Duration(float64(o.Workers) / o.Rate * float64(time.Second))
	}
	return 0
}

// Run checks until the duration or the count is reached, or ctx ends.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		issued   atomic.Int64
		mu       sync.Mutex
		res      Result
		all      []time.Duration
		wg       sync.WaitGroup
		period   = o.period()
		checkOne = checker(o)
	)
	start := time.Now()
	// The end is checked on the clock, not with ctx.Err(): on a busy
	// machine the context's timer fires late, and in between every dial
	// fails at once with its deadline passed, which is no failure of the
	// target.
	end, _ := ctx.Deadline()
	over := func() bool { return ctx.Err() != nil || !time.Now().Before(end) }
	for w := range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				lat               []time.Duration
				errs              int
				lastErr, unwanted string
				kinds             = map[string]int{}
				next              = start
			)
			if period > 0 { // spread the workers over one period, like balancers started at different times
				next = start.Add(period * time.Duration(w) / time.Duration(o.Workers))
			}
			for {
				if period > 0 {
					if !sleepUntil(ctx, next) {
						break
					}
					next = next.Add(period)
				}
				if over() || issued.Add(1) > int64(o.MaxChecks) {
					break
				}
				t0 := time.Now()
				reply, err := checkOne(ctx)
				d := time.Since(t0)
				switch {
				case err != nil:
					if over() {
						break // cut by the end of the run: not a failure of the target
					}
					errs++
					lastErr = err.Error()
					if k := errorKind(err); kinds[k] > 0 || len(kinds) < 8 {
						kinds[k]++
					}
				case o.Expect != "" && reply != o.Expect:
					errs++
					unwanted = reply
				default:
					lat = append(lat, d)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			res.Errors += errs
			for k, n := range kinds {
				if res.ErrorKinds == nil {
					res.ErrorKinds = map[string]int{}
				}
				res.ErrorKinds[k] += n
			}
			if lastErr != "" {
				res.LastErr = lastErr
			}
			if unwanted != "" {
				res.Unwanted = unwanted
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Checks = len(all)
	if res.Elapsed > 0 {
		res.PerSec = float64(res.Checks) / res.Elapsed.Seconds()
	}
	slices.Sort(all)
	res.P50, res.P90, res.P99 = Percentile(all, 50), Percentile(all, 90), Percentile(all, 99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	return res, nil
}

// errorKind is an error's message without the addresses, so errors of one
// kind count together: "dial: connection refused".
func errorKind(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// Percentile returns the p-th percentile of sorted durations (nearest rank).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// checker returns the function doing one check of o's kind.
func checker(o Options) func(context.Context) (string, error) {
	var send []byte
	switch o.Kind {
	case HTTP:
		send = []byte("GET " + o.Send + " HTTP/1.0\r\n\r\n")
	default:
		send = []byte(o.Send)
	}
	// Dial as haproxy does: with something to send, the handshake's last
	// ACK is held and leaves with the data, so the agent finds the send
	// queued when it accepts.
	d := &net.Dialer{Timeout: o.Timeout}
	if len(send) > 0 {
		d.Control = haproxyclient.DelayHandshakeACK
	}
	return func(ctx context.Context) (string, error) {
		c, err := d.DialContext(ctx, "tcp", o.Addr)
		if err != nil {
			return "", err
		}
		// Close as haproxy closes its checks: with a reset (linger 0), so
		// neither side keeps the connection in TIME_WAIT.
		defer func() {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}()
		_ = c.SetDeadline(time.Now().Add(o.Timeout))
		if len(send) > 0 {
			if _, err := c.Write(send); err != nil {
				return "", err
			}
		}
		line, err := bufio.NewReaderSize(c, 256).ReadString('\n')
		if err != nil && line == "" {
			return "", err
		}
		if o.Kind == HTTP {
			// "HTTP/1.1 200 OK\r\n" -> "200"
			f := strings.Fields(line)
			if len(f) < 2 {
				return "", fmt.Errorf("bad status line %q", line)
			}
			return f[1], nil
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}
