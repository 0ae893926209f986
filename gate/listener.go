package gate

import (
	"context"
	"errors"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/irismirror/iris-mirror-agent/internal/backoff"
)

// Run opens and closes the listener as Set asks until ctx is done, then
// closes the listener, cuts every session and returns once every goroutine
// of the gate has ended. A listener that cannot be opened (the port taken
// meanwhile) is retried with a backoff while the gate should be open.
//
// Each pass reconciles the state with the wish, whatever happened before:
// closed while not allowed (including when an open verdict's lease runs
// out), sessions cut a drain after the gate stopped being allowed, however
// often it was reopened or failed to reopen meanwhile.
func (g *Gate) Run(ctx context.Context) error {
	if !g.ran.CompareAndSwap(false, true) {
		return errors.New("gate: Run called twice")
	}
	var (
		drain, retry, reclaim, lease     *time.Timer
		drainC, retryC, reclaimC, leaseC <-chan time.Time
		retryWait                        time.Duration
	)
	stop := func(t *time.Timer) {
		if t != nil {
			t.Stop()
		}
	}
	defer func() { stop(drain); stop(retry); stop(reclaim); stop(lease) }()
	for {
		now := time.Now()
		w := g.wish.Load()
		allowed, open := g.allows(w, now), g.isOpen()
		switch {
		case allowed && !open && retryC == nil:
			if err := g.open(); err != nil {
				retryWait = min(max(2*retryWait, 100*time.Millisecond), 2*time.Second)
				retry = time.NewTimer(retryWait)
				retryC = retry.C
				break
			}
			retryWait = 0
		case !allowed && open:
			g.closeListener()
		}
		if !allowed && retryC != nil {
			stop(retry)
			retryC, retryWait = nil, 0
		}
		// Sessions: kept while allowed; otherwise cut, at once or after
		// the drain counted from the first pass that found them unwanted.
		switch {
		case allowed:
			stop(drain)
			drainC = nil
		case g.cfg.Drain <= 0:
			g.cutAll()
		case drainC == nil && g.liveSessions() > 0:
			drain = time.NewTimer(g.cfg.Drain)
			drainC = drain.C
		}
		// The dead man's switch: wake when the open verdict's lease ends.
		stop(lease)
		leaseC = nil
		if allowed {
			lease = time.NewTimer(w.until.Sub(now))
			leaseC = lease.C
		}
		if g.applied.Swap(w) != w {
			g.mu.Lock()
			g.signalLocked() // WaitOpen and WaitClosed look again
			g.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			g.shutdown()
			return nil
		case <-g.wake:
		case <-leaseC:
			leaseC = nil
		case <-retryC:
			retryC = nil
		case <-drainC:
			drainC = nil
			if !g.allowed(time.Now()) {
				g.cutAll()
			}
		case <-g.idle:
			stop(reclaim)
			reclaim = time.NewTimer(reclaimDelay)
			reclaimC = reclaim.C
		case <-reclaimC:
			reclaimC = nil
			if g.liveSessions() == 0 {
				g.wg.Add(1)
				go func() { // off Run's goroutine: returning memory takes a while
					defer g.wg.Done()
					runtime.GC() // the pool's pipes move to its victim cache
					debug.FreeOSMemory()
				}()
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
		Str("opens_on", g.cfg.OpensOn).Msg("gate open")
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
	g.cfg.Logger.Info().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Str("reason", g.wish.Load().reason).
		Int("sessions", n).Stringer("drain", g.cfg.Drain).Msg("gate closed")
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
			delay = backoff.Accept(delay)
			g.cfg.Logger.Warn().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Err(err).
				Dur("retry_in", delay).Msg("gate accept failed")
			time.Sleep(delay)
			continue
		}
		delay = 0
		g.admit(ln, c)
	}
}
