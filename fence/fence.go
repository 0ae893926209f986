package fence

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Config describes a fence.
type Config struct {
	Rule Rule
	// Drain lets established sessions run this long after the fence
	// closes on a verdict; new connections are refused at once either way.
	Drain  time.Duration
	Member string // for logs
	Logger zerolog.Logger
}

// kernel is what the fence needs of Kernel (tests give it a fake).
type kernel interface {
	Close() (KernelState, error)
	Open() (KernelState, error)
	Cut() (int, error)
}

// wish is the last Set.
type wish struct {
	open   bool
	until  time.Time
	reason string
}

// retryMax bounds the wait before a failed kernel write is tried again
// when no Set comes to retry it sooner.
const retryMax = 2 * time.Second

// Fence owns the agent's firewall table in the member's namespace. Build
// it with New (it is closed when New returns), drive it with Set, run it
// with Run.
type Fence struct {
	cfg  Config
	k    kernel
	wake chan struct{}
	ran  atomic.Bool
	wish atomic.Pointer[wish]
	hold atomic.Bool

	// Run's goroutine only.
	closed      bool      // what the kernel was last made to hold
	closedSince time.Time // since when the fence is closed on a verdict; zero before the first
	backoff     time.Duration
	counted     uint64 // the reject counters of the rules as last read
	held        bool

	mu      sync.Mutex
	stats   Stats
	isOpen  atomic.Bool
	rejects atomic.Uint64
	cuts    atomic.Uint64
	repairs atomic.Uint64
}

// New opens the kernel for cfg.Rule, checks that the fence can work
// here, and closes it: until the first fresh verdict that the member is
// primary, no new client connection reaches it (fail closed). Sessions
// already established are left alone until a verdict says to cut them:
// an agent restarting on a primary must not cut its clients.
func New(cfg Config) (*Fence, error) {
	k, err := OpenKernel(cfg.Rule)
	if err != nil {
		return nil, err
	}
	if err := k.Check(); err != nil {
		k.Release()
		return nil, err
	}
	f, err := newWith(cfg, k)
	if err != nil {
		k.Release()
	}
	return f, err
}

func newWith(cfg Config, k kernel) (*Fence, error) {
	f := &Fence{cfg: cfg, k: k, wake: make(chan struct{}, 1)}
	f.stats = Stats{Ports: cfg.Rule.Ports, Allow: prefixes(cfg.Rule.Allow), DrainMS: cfg.Drain.Milliseconds()}
	before, err := k.Close()
	if err != nil {
		return nil, err
	}
	f.closed = true
	if before.Intact {
		f.counted = before.Rejected // refused before this agent started: not its to count
	}
	now := time.Now()
	f.mu.Lock()
	f.stats.State, f.stats.Reason, f.stats.Since = "closed", "starting: no verdict yet", now
	f.mu.Unlock()
	how := "written"
	if before.Intact {
		how = "already in place"
	}
	cfg.Logger.Info().Str("member", cfg.Member).Uints16("ports", cfg.Rule.Ports).Strs("allow", f.stats.Allow).
		Str("rule", how).Msg("fence closed at start: new connections refused until the first fresh primary verdict")
	return f, nil
}

// Set asks for the fence open (true) or closed, with the reason shown in
// Stats. An open fence closes by itself at until (the lease of the
// verdict) unless a later Set renews it. Set never blocks: Run applies
// the latest wish. Call it for every verdict, not only for changes: each
// call also checks the kernel still holds what the fence wrote.
func (f *Fence) Set(open bool, until time.Time, reason string) {
	f.wish.Store(&wish{open: open, until: until, reason: reason})
	f.poke()
}

// Hold stops the fence from changing the kernel: the agent is stopping,
// and the fence stays as the last verdict had it (see Run). It never
// blocks.
func (f *Fence) Hold() {
	if !f.hold.Swap(true) {
		f.poke()
	}
}

func (f *Fence) poke() {
	select {
	case f.wake <- struct{}{}:
	default: // a wake-up is pending; Run reads the latest wish
	}
}

// Run applies the wishes until ctx is done. It then leaves the kernel as
// the last verdict had it: a fence open on a primary stays open (an
// agent restarting must not refuse or cut the primary's clients), a
// closed one stays closed (a dead agent on a backup must not let clients
// in). Sessions still in their drain on a closed fence are cut at exit:
// no one else would.
func (f *Fence) Run(ctx context.Context) error {
	if !f.ran.CompareAndSwap(false, true) {
		return errors.New("fence: Run called twice")
	}
	var t *time.Timer
	var tc <-chan time.Time
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		next := f.pass(time.Now())
		if t != nil {
			t.Stop()
			tc = nil
		}
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			tc = t.C
		}
		select {
		case <-ctx.Done():
			f.exit()
			return nil
		case <-f.wake:
		case <-tc:
		}
	}
}

// pass brings the kernel to the wish and returns when the next pass is
// due without a Set (the lease's end, the drain's end, a retry), or zero.
func (f *Fence) pass(now time.Time) time.Time {
	if f.hold.Load() {
		if !f.held {
			f.held = true
			f.cfg.Logger.Info().Str("member", f.cfg.Member).Str("fence", f.state()).
				Msg("agent stopping: the fence stays as the last verdict had it")
		}
		return f.sweep(now)
	}
	w := f.wish.Load()
	if w == nil {
		return time.Time{} // starting: closed by New, nothing to cut
	}
	open, reason := w.open && now.Before(w.until), w.reason
	if w.open && !open {
		reason = "lease ran out at " + w.until.Format(time.RFC3339Nano) + ": no fresh primary verdict since"
	}
	var before KernelState
	var err error
	if open {
		before, err = f.k.Open()
	} else {
		before, err = f.k.Close()
	}
	if err != nil {
		f.failed(err)
		f.backoff = min(max(2*f.backoff, 100*time.Millisecond), retryMax)
		return now.Add(f.backoff)
	}
	f.backoff = 0
	f.drift(before)
	f.count(before, !open && before.Intact)
	f.applied(open, reason, w.until, now)
	if open {
		return w.until
	}
	return f.sweep(now)
}

// applied records the kernel state just written.
func (f *Fence) applied(open bool, reason string, until, now time.Time) {
	changed := f.closed == open
	f.closed = !open
	f.isOpen.Store(open)
	if open {
		f.closedSince = time.Time{}
	} else if f.closedSince.IsZero() {
		f.closedSince = now // just closed, or the first verdict after start
	}
	f.mu.Lock()
	if changed {
		f.stats.Since = now
	}
	f.stats.State, f.stats.Reason, f.stats.LastError = f.state(), reason, ""
	f.stats.OpenUntil = time.Time{}
	if open {
		f.stats.OpenUntil = until
	}
	f.mu.Unlock()
	if changed {
		ev := f.cfg.Logger.Info().Str("member", f.cfg.Member).Str("reason", reason)
		if open {
			ev.Time("until", until).Msg("fence open: clients may connect")
		} else {
			ev.Stringer("drain", f.cfg.Drain).Msg("fence closed: new connections refused")
		}
	}
}

// sweep cuts the sessions to the fenced ports once the drain after a
// closing verdict has passed, and on every pass after that: a client
// whose handshake crossed the rule's arrival, or one let in while an
// operator had the fence open, goes at the next round. It returns when
// the drain ends, or zero.
func (f *Fence) sweep(now time.Time) time.Time {
	if !f.closed || f.closedSince.IsZero() {
		return time.Time{}
	}
	if due := f.closedSince.Add(f.cfg.Drain); now.Before(due) {
		return due
	}
	n, err := f.k.Cut()
	f.cuts.Add(uint64(n))
	if n > 0 {
		f.cfg.Logger.Info().Str("member", f.cfg.Member).Int("sessions", n).Msg("fence cut sessions")
	}
	if err != nil {
		f.failed(err)
	}
	return time.Time{}
}

// exit cuts what is still draining and says how the fence is left.
func (f *Fence) exit() {
	if f.closed && !f.closedSince.IsZero() && time.Now().Before(f.closedSince.Add(f.cfg.Drain)) {
		f.closedSince = time.Now().Add(-f.cfg.Drain)
		f.sweep(time.Now())
	}
	f.mu.Lock()
	reason := f.stats.Reason
	f.mu.Unlock()
	f.cfg.Logger.Info().Str("member", f.cfg.Member).Str("fence", f.state()).Str("last_verdict", reason).
		Msg("agent stopped: fence left " + f.state() + " as the last verdict had it")
}

func (f *Fence) state() string {
	if f.closed {
		return "closed"
	}
	return "open"
}

// drift notes a kernel that did not hold what the fence last wrote: the
// rule flushed or changed by hand, or the table added while open.
func (f *Fence) drift(before KernelState) {
	var problem string
	switch {
	case f.closed && !before.Closed:
		problem = "table missing"
	case f.closed && !before.Intact:
		problem = before.Problem
	case !f.closed && before.Closed:
		problem = "table present while open"
	default:
		return
	}
	f.repairs.Add(1)
	f.cfg.Logger.Warn().Str("member", f.cfg.Member).Str("found", problem).
		Msg("fence: the kernel did not hold what the agent wrote (changed by hand?): put back")
}

// count adds what the reject counters read in before counted since the
// last pass. kept says the rules stay as they were; otherwise they were
// just removed or written anew, and count from zero. Counters that went
// down belong to rules someone else replaced: all their count is new.
func (f *Fence) count(before KernelState, kept bool) {
	if before.Rejected >= f.counted {
		f.rejects.Add(before.Rejected - f.counted)
	} else {
		f.rejects.Add(before.Rejected)
	}
	f.counted = 0
	if kept {
		f.counted = before.Rejected
	}
}

// failed records a kernel error; the first of a run is logged at error.
func (f *Fence) failed(err error) {
	f.mu.Lock()
	first := f.stats.LastError == ""
	f.stats.LastError = err.Error()
	f.mu.Unlock()
	ev := f.cfg.Logger.Debug()
	if first {
		ev = f.cfg.Logger.Error()
	}
	ev.Str("member", f.cfg.Member).Err(err).Msg("fence: kernel update failed; retrying")
}
