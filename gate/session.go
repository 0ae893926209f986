package gate

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// session is one forwarded connection.
type session struct {
	client *net.TCPConn
	cancel context.CancelFunc // aborts the dial to the target
	target *net.TCPConn       // set once dialed; guarded by Gate.mu
	cut    bool               // guarded by Gate.mu
}

// admit starts a session for c, or resets c when the gate should not be
// open (its verdict's lease ran out, or the listener it came from is closed
// already) or is full.
func (g *Gate) admit(ln *net.TCPListener, c *net.TCPConn) {
	// The verdict is read here, for every connection: a gate whose Run is
	// late to close still admits nobody past the lease.
	if !g.allowed(time.Now()) {
		reset(c)
		g.notOpen.Add(1)
		return
	}
	g.mu.Lock()
	if g.ln != ln {
		g.mu.Unlock()
		reset(c)
		g.notOpen.Add(1)
		return
	}
	if len(g.sessions) >= g.cfg.MaxSessions {
		g.mu.Unlock()
		reset(c)
		g.overLimit.Add(1)
		// At most one line per fullLogEvery: a client that keeps the
		// gate full and churns one session must not fill the log.
		now, last := time.Now().UnixNano(), g.overLimitLoggedAt.Load()
		if now-last >= int64(fullLogEvery) && g.overLimitLoggedAt.CompareAndSwap(last, now) {
			g.cfg.Logger.Warn().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).
				Int("max_sessions", g.cfg.MaxSessions).Uint64("reset_over_limit_total", g.overLimit.Load()).
				Msg("gate full: resetting new connections")
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{client: c, cancel: cancel}
	g.sessions[s] = struct{}{}
	g.peak = max(g.peak, len(g.sessions))
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
	burstOver := len(g.sessions) == 0 && g.peak >= reclaimAfter
	if burstOver {
		g.peak = 0
	}
	g.mu.Unlock()
	if burstOver {
		select {
		case g.idle <- struct{}{}:
		default: // Run has been told already
		}
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
	if errors.Is(err, syscall.ECONNREFUSED) {
		g.suspend()
	}
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

// liveSessions counts the sessions not cut yet.
func (g *Gate) liveSessions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for s := range g.sessions {
		if !s.cut {
			n++
		}
	}
	return n
}
