// Package gate guards one of the member's ports for balancers that cannot
// check health, such as open-source nginx.
//
// A Gate listens on LISTEN and forwards each connection byte for byte to
// TARGET while the member passes the gate's check (primary by default).
// Otherwise it has no listener at all, so a balancer's connect is refused
// at once and the balancer moves to the next server. When the member stops
// passing, the listener closes and the forwarded sessions are cut (after an
// optional drain grace), as haproxy's on-marked-down shutdown-sessions does.
//
// The gate never probes anything: it follows the snapshots the monitor
// publishes. The publisher calls Update, which only stores the wish and
// wakes the gate's own goroutine (Run), so publishing never waits on a
// socket.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
)

// Defaults for the zero values of Config.
const (
	DefaultConnectTimeout = time.Second
	DefaultMaxSessions    = 4096
)

// chunk is how much one splice call may move before the byte counters are
// updated, so /status shows a long session's traffic while it runs.
const chunk = 1 << 20

// Config describes one gate.
type Config struct {
	Listen string        // [host]:port; port 0 picks a free port at the first open and keeps it
	Target string        // host:port the connections are forwarded to
	Check  checker.Check // the check that opens the gate: CheckPrimary or CheckStandby
	// Drain lets forwarded sessions run this long after the gate closes;
	// new connections are refused at once either way. 0 cuts at once.
	Drain          time.Duration
	ConnectTimeout time.Duration // to Target; 0 means DefaultConnectTimeout
	MaxSessions    int           // concurrent sessions; beyond, connections are reset; 0 means DefaultMaxSessions
	Member         string        // for logs
	Logger         zerolog.Logger
	Counter        Counter // also told about the traffic (such as the agent's metrics); nil means none
}

// Counter is told about a gate's traffic as it flows. Its methods must be
// cheap and safe for concurrent use: they run on the forwarding path.
type Counter interface {
	CountGateConnection()       // a connection admitted
	AddGateBytes(in, out int64) // bytes forwarded: in is client to target
}

// Gate is one guarded port. Build it with New, drive it with Update (or
// Set), and run it with Run.
type Gate struct {
	cfg        Config
	listenAddr string // what to bind: Listen, with a port 0 pinned after the first open; Run's goroutine only

	want   atomic.Bool
	reason atomic.Pointer[string]
	wake   chan struct{}
	ran    atomic.Bool

	mu       sync.Mutex
	ln       *net.TCPListener // nil while closed
	sessions map[*session]struct{}
	changed  chan struct{} // closed and replaced when the listener opens or closes
	lastErr  string

	wg sync.WaitGroup // accept loops and sessions

	sessionsTotal, bytesToTarget, bytesToClient atomic.Uint64
	dialFailures, cut, overLimit                atomic.Uint64
	opened, closed, listenErrors                atomic.Uint64
	dialFailing, overLimitLogged                atomic.Bool
}

// session is one forwarded connection.
type session struct {
	client *net.TCPConn
	cancel context.CancelFunc // aborts the dial to the target
	target *net.TCPConn       // set once dialed; guarded by Gate.mu
	cut    bool               // guarded by Gate.mu
}

// New checks cfg and builds a closed gate.
func New(cfg Config) (*Gate, error) {
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("gate listen %q: %w", cfg.Listen, err)
	}
	if host, _, err := net.SplitHostPort(cfg.Target); err != nil || host == "" {
		return nil, fmt.Errorf("gate target %q: want host:port", cfg.Target)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	g := &Gate{
		cfg:        cfg,
		listenAddr: cfg.Listen,
		wake:       make(chan struct{}, 1),
		sessions:   map[*session]struct{}{},
		changed:    make(chan struct{}),
	}
	starting := "not yet checked"
	g.reason.Store(&starting)
	return g, nil
}

// Listen is the configured listen address.
func (g *Gate) Listen() string { return g.cfg.Listen }

// Update follows a published snapshot: open iff it passes the gate's
// check. It never blocks (a monitor.Watcher may call it).
func (g *Gate) Update(s *checker.Snapshot) {
	v := s.Evaluate(g.cfg.Check)
	g.Set(v.OK, v.Reason)
}

// Set opens (true) or closes the gate, with the reason shown in Stats. It
// never blocks; Run applies the latest wish.
func (g *Gate) Set(open bool, reason string) {
	if r := g.reason.Load(); r == nil || *r != reason {
		g.reason.Store(&reason)
	}
	if g.want.Swap(open) != open {
		select {
		case g.wake <- struct{}{}:
		default: // a wake-up is already pending; Run reads the latest wish
		}
	}
}

// Run opens and closes the listener as Set asks until ctx is done, then
// closes the listener, cuts every session and returns once every goroutine
// of the gate has ended. A listener that cannot be opened (the port taken
// meanwhile) is retried with a backoff while the gate should be open.
func (g *Gate) Run(ctx context.Context) error {
	if !g.ran.CompareAndSwap(false, true) {
		return errors.New("gate: Run called twice")
	}
	var (
		drain, retry   *time.Timer
		drainC, retryC <-chan time.Time
		backoff        time.Duration
	)
	stop := func(t *time.Timer) {
		if t != nil {
			t.Stop()
		}
	}
	defer func() { stop(drain); stop(retry) }()
	for {
		want, open := g.want.Load(), g.isOpen()
		switch {
		case want && !open && retryC == nil:
			if err := g.open(); err != nil {
				backoff = min(max(2*backoff, 100*time.Millisecond), 2*time.Second)
				retry = time.NewTimer(backoff)
				retryC = retry.C
				break
			}
			backoff = 0
			// Sessions still draining serve a primary again: keep them.
			stop(drain)
			drainC = nil
		case !want && open:
			g.closeListener()
			if g.cfg.Drain <= 0 {
				g.cutAll()
				break
			}
			stop(drain)
			drain = time.NewTimer(g.cfg.Drain)
			drainC = drain.C
		case !want && retryC != nil:
			stop(retry)
			retryC, backoff = nil, 0
		}
		select {
		case <-ctx.Done():
			g.shutdown()
			return nil
		case <-g.wake:
		case <-retryC:
			retryC = nil
		case <-drainC:
			drainC = nil
			if !g.want.Load() {
				g.cutAll()
			}
		}
	}
}

func (g *Gate) isOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ln != nil
}

// signalLocked wakes everyone waiting for the listener to open or close.
func (g *Gate) signalLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *Gate) open() error {
	// Go sets SO_REUSEADDR: the port binds again at once after a close,
	// even with connections of the last period in TIME_WAIT.
	ln, err := net.Listen("tcp", g.listenAddr)
	if err != nil {
		g.listenErrors.Add(1)
		g.mu.Lock()
		first := g.lastErr == ""
		g.lastErr = "listen: " + errText(err)
		g.mu.Unlock()
		ev := g.cfg.Logger.Debug()
		if first {
			ev = g.cfg.Logger.Error()
		}
		ev.Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Err(err).Msg("gate cannot listen; retrying")
		return err
	}
	tl := ln.(*net.TCPListener)
	if host, port, _ := net.SplitHostPort(g.listenAddr); port == "0" {
		_, p, _ := net.SplitHostPort(tl.Addr().String())
		g.listenAddr = net.JoinHostPort(host, p)
	}
	g.mu.Lock()
	g.ln = tl
	g.lastErr = ""
	g.signalLocked()
	g.mu.Unlock()
	g.opened.Add(1)
	g.wg.Add(1)
	go g.accept(tl)
	g.cfg.Logger.Info().Str("member", g.cfg.Member).Str("listen", tl.Addr().String()).Str("target", g.cfg.Target).
		Str("opens_on", g.cfg.Check.String()).Msg("gate open")
	return nil
}

func (g *Gate) closeListener() {
	g.mu.Lock()
	// Closed under the lock: once a waiter sees the gate closed, a connect
	// is refused. Connections still in the accept queue are reset by the
	// kernel.
	_ = g.ln.Close()
	g.ln = nil
	n := len(g.sessions)
	g.signalLocked()
	g.mu.Unlock()
	g.closed.Add(1)
	g.cfg.Logger.Info().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Str("reason", *g.reason.Load()).
		Int("sessions", n).Stringer("drain", g.cfg.Drain).Msg("gate closed")
}

// cutAll resets every forwarded session, both sides.
func (g *Gate) cutAll() {
	type pair struct {
		s      *session
		target *net.TCPConn
	}
	g.mu.Lock()
	var list []pair
	for s := range g.sessions {
		if !s.cut {
			s.cut = true
			list = append(list, pair{s, s.target})
		}
	}
	g.mu.Unlock()
	g.cut.Add(uint64(len(list)))
	for _, p := range list {
		p.s.cancel()
		reset(p.s.client)
		if p.target != nil {
			reset(p.target)
		}
	}
	if len(list) > 0 {
		g.cfg.Logger.Info().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Int("sessions", len(list)).Msg("gate cut sessions")
	}
}

func (g *Gate) shutdown() {
	g.mu.Lock()
	if g.ln != nil {
		_ = g.ln.Close()
		g.ln = nil
		g.closed.Add(1)
		g.signalLocked()
	}
	g.mu.Unlock()
	g.cutAll()
	g.wg.Wait()
}

func (g *Gate) accept(ln *net.TCPListener) {
	defer g.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			g.cfg.Logger.Warn().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Err(err).
				Dur("retry_in", delay).Msg("gate accept failed")
			time.Sleep(delay)
			continue
		}
		delay = 0
		g.admit(ln, c)
	}
}

// admit starts a session for c, or resets c when the listener it came
// from is closed already or the gate is full.
func (g *Gate) admit(ln *net.TCPListener, c *net.TCPConn) {
	g.mu.Lock()
	if g.ln != ln {
		g.mu.Unlock()
		reset(c)
		return
	}
	if len(g.sessions) >= g.cfg.MaxSessions {
		g.mu.Unlock()
		reset(c)
		g.overLimit.Add(1)
		if g.overLimitLogged.CompareAndSwap(false, true) {
			g.cfg.Logger.Warn().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).
				Int("max_sessions", g.cfg.MaxSessions).Msg("gate full: resetting new connections")
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{client: c, cancel: cancel}
	g.sessions[s] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	g.sessionsTotal.Add(1)
	if g.cfg.Counter != nil {
		g.cfg.Counter.CountGateConnection()
	}
	go g.serve(ctx, s)
}

func (g *Gate) forget(s *session) {
	g.mu.Lock()
	delete(g.sessions, s)
	below := len(g.sessions) < g.cfg.MaxSessions
	g.mu.Unlock()
	if below {
		g.overLimitLogged.Store(false)
	}
}

func (g *Gate) serve(ctx context.Context, s *session) {
	defer g.wg.Done()
	defer g.forget(s)
	d := net.Dialer{Timeout: g.cfg.ConnectTimeout}
	c, err := d.DialContext(ctx, "tcp", g.cfg.Target)
	s.cancel()
	if err != nil {
		g.mu.Lock()
		cut := s.cut
		g.mu.Unlock()
		if !cut {
			g.dialFailed(err)
		}
		// The client's connect already succeeded: a reset is the closest
		// thing to a refusal, and it comes at once.
		reset(s.client)
		return
	}
	target := c.(*net.TCPConn)
	g.mu.Lock()
	if s.cut {
		g.mu.Unlock()
		reset(target)
		return
	}
	s.target = target
	g.mu.Unlock()
	g.dialOK()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.pipe(s, target, s.client, true)
	}()
	g.pipe(s, s.client, target, false)
	wg.Wait()
	_ = s.client.Close()
	_ = target.Close()
}

// pipe copies src to dst until EOF, which it passes on as a half-close, or
// an error, which resets both sides. Between two TCP connections io.Copy
// splices on Linux: the bytes stay in the kernel.
func (g *Gate) pipe(s *session, dst, src *net.TCPConn, toTarget bool) {
	lr := &io.LimitedReader{R: src}
	for {
		lr.N = chunk
		w, err := io.Copy(dst, lr)
		g.count(w, toTarget)
		if err != nil {
			g.abort(s)
			return
		}
		if lr.N > 0 { // EOF before the chunk was full
			_ = dst.CloseWrite()
			return
		}
	}
}

func (g *Gate) count(n int64, toTarget bool) {
	if n == 0 {
		return
	}
	if toTarget {
		g.bytesToTarget.Add(uint64(n))
	} else {
		g.bytesToClient.Add(uint64(n))
	}
	if g.cfg.Counter != nil {
		if toTarget {
			g.cfg.Counter.AddGateBytes(n, 0)
		} else {
			g.cfg.Counter.AddGateBytes(0, n)
		}
	}
}

// abort resets both sides of a session, so the other direction ends too.
func (g *Gate) abort(s *session) {
	g.mu.Lock()
	target := s.target
	g.mu.Unlock()
	reset(s.client)
	if target != nil {
		reset(target)
	}
}

// dialFailed logs the first failure of a streak at warn and the rest at
// debug: a refusing target under load must not flood the log.
func (g *Gate) dialFailed(err error) {
	g.dialFailures.Add(1)
	ev := g.cfg.Logger.Debug()
	if g.dialFailing.CompareAndSwap(false, true) {
		ev = g.cfg.Logger.Warn()
	}
	ev.Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Str("target", g.cfg.Target).Err(err).
		Msg("gate target failed: client reset")
}

func (g *Gate) dialOK() {
	if g.dialFailing.Load() && g.dialFailing.CompareAndSwap(true, false) {
		g.cfg.Logger.Info().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Str("target", g.cfg.Target).
			Msg("gate target reachable again")
	}
}

// reset closes c with an RST rather than a FIN: the peer learns at once
// that the session failed, instead of reading a clean end of stream.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

func errText(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// Addr is the listener's address while the gate is open, nil otherwise.
func (g *Gate) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return nil
	}
	return g.ln.Addr()
}

// WaitOpen waits until the listener is open and returns its address.
func (g *Gate) WaitOpen(ctx context.Context) (net.Addr, error) { return g.wait(ctx, true) }

// WaitClosed waits until the listener is closed.
func (g *Gate) WaitClosed(ctx context.Context) error {
	_, err := g.wait(ctx, false)
	return err
}

func (g *Gate) wait(ctx context.Context, open bool) (net.Addr, error) {
	for {
		g.mu.Lock()
		ln, ch := g.ln, g.changed
		g.mu.Unlock()
		if (ln != nil) == open {
			if ln == nil {
				return nil, nil
			}
			return ln.Addr(), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}
