// Package monitor runs the poll loop: it starts a probe round every
// interval, feeds the role state machine and publishes each snapshot with
// an atomic store. Readers call Snapshot, which never waits on anything.
//
// Rounds overlap: a round still waiting on a slow answer does not hold
// back the next one, so one slow mirror_status (a latency spike) is
// overtaken by the next round's answer instead of stopping the member's
// traffic, while a hang shows as the lease running out. The newest round
// (by start) that has finished decides.
//
// Nothing that can block runs under the monitor's lock or in a round:
// logs, metrics and watchers are told afterwards, in order, by one
// notifier goroutine, and a notifier that falls behind loses events rather
// than holding up a snapshot.
package monitor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// Prober is one configured probe: its name and target, bound to its function.
type Prober struct {
	Spec checker.ProbeSpec
	Run  probe.Func
}

// Options configures the loop.
type Options struct {
	Member   string
	Interval time.Duration // start-to-start time between rounds
	Timeout  time.Duration // deadline of one round
	Checker  checker.Config
	Logger   zerolog.Logger
	Now      func() time.Time // nil means time.Now

	// MinTriggerGap bounds the probe rate under Trigger: a triggered round
	// starts no sooner than this after the previous round started, so IRIS
	// never sees more than one round per gap however often it is poked.
	// Zero means no limit.
	MinTriggerGap time.Duration
	// OnRound, if set, is given every finished round's results (superseded
	// ones too: their latencies are real), from the notifier goroutine.
	OnRound func(results []probe.Result)
}

// Watcher is told about every published snapshot, in order, from the
// notifier goroutine. It should return quickly.
type Watcher func(prev, next *checker.Snapshot)

// eventQueue is how many publications may wait for the notifier.
const eventQueue = 256

// notifyGrace is how long Run waits for the notifier at the end.
const notifyGrace = time.Second

type event struct {
	prev, next *checker.Snapshot // nil next: a superseded round (results only)
	results    []probe.Result    // nil: not a probe round
}

// Monitor owns the state machine and the current snapshot.
type Monitor struct {
	opts        Options
	probers     []Prober
	now         func() time.Time
	maxInFlight int

	mu      sync.Mutex // serialises the machine; held for no I/O
	machine *checker.Machine
	changed chan struct{} // closed at the next publication
	cur     atomic.Pointer[checker.Snapshot]

	watchers []Watcher
	events   chan event
	trigger  chan struct{}

	rounds, superseded, skipped, lostEvents atomic.Uint64
	inFlight                                atomic.Int64
	failing                                 map[string]bool // notifier only: probe name -> failing, for log damping
}

// New builds a monitor in role unknown. Add watchers before Run.
func New(probers []Prober, opts Options) *Monitor {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	specs := make([]checker.ProbeSpec, len(probers))
	for i, p := range probers {
		specs[i] = p.Spec
	}
	m := &Monitor{
		opts:    opts,
		probers: probers,
		now:     now,
		// Enough rounds to keep one starting every interval while earlier
		// ones wait out their deadline, and one for a trigger. Rounds
		// whose probes ignore the deadline stop at this cap; the lease
		// has failed the member closed by then.
		maxInFlight: int((opts.Timeout+opts.Interval-1)/max(opts.Interval, 1)) + 1,
		machine:     checker.New(opts.Checker, specs, now()),
		changed:     make(chan struct{}),
		events:      make(chan event, eventQueue),
		trigger:     make(chan struct{}, 1),
		failing:     map[string]bool{},
	}
	m.cur.Store(m.machine.Snapshot())
	return m
}

// Snapshot returns the current snapshot: one atomic load, never blocks.
func (m *Monitor) Snapshot() *checker.Snapshot { return m.cur.Load() }

// Changed returns a channel closed at the next publication: followers
// (gates, the fence) wait on it, then read Snapshot.
func (m *Monitor) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// Stats counts the loop's rounds.
type Stats struct {
	Rounds     uint64 // rounds observed
	Superseded uint64 // rounds that finished after a newer one
	Skipped    uint64 // rounds not started: too many still in flight
	LostEvents uint64 // publications the notifier fell too far behind to tell
	InFlight   int64  // rounds running now
}

// Stats returns the loop's counters.
func (m *Monitor) Stats() Stats {
	return Stats{Rounds: m.rounds.Load(), Superseded: m.superseded.Load(), Skipped: m.skipped.Load(),
		LostEvents: m.lostEvents.Load(), InFlight: m.inFlight.Load()}
}

// Rounds is the number of probe rounds observed since start.
func (m *Monitor) Rounds() uint64 { return m.rounds.Load() }

// Watch registers w. Call before Run.
func (m *Monitor) Watch(w Watcher) { m.watchers = append(m.watchers, w) }

// Trigger asks for a probe round now instead of at the next tick. It never
// blocks; a trigger while one is pending is merged into it, and the round
// waits for MinTriggerGap after the previous one.
func (m *Monitor) Trigger() {
	select {
	case m.trigger <- struct{}{}:
	default:
	}
}

// Drain makes every question fail with "shutting down" from now on.
func (m *Monitor) Drain() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(m.machine.Drain(m.now()), nil)
}

// SetMaintenance takes the member out of every balancer (on) or puts it
// back, with the source shown in /status. It publishes at once.
func (m *Monitor) SetMaintenance(on bool, source string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.cur.Load(); cur.Maintenance == on && (!on || cur.MaintenanceSource == source) {
		return
	}
	m.publishLocked(m.machine.SetMaintenance(m.now(), on, source), nil)
}

// Run polls until ctx is done. A round starts every interval (a trigger
// may start one early, no sooner than MinTriggerGap after the previous
// one), whether or not earlier rounds have finished, up to a cap.
func (m *Monitor) Run(ctx context.Context) error {
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		m.notify(ctx)
	}()
	go m.watchLease(ctx)
	var rounds sync.WaitGroup
	defer func() {
		// Rounds end at their deadline, which ctx shortens; one whose probe
		// ignores its context is not waited for past the timeout.
		waitTimeout(&rounds, m.opts.Timeout+100*time.Millisecond)
		// The notifier tells what is queued and stops, unless something it
		// calls is stuck: shutdown does not wait on that.
		t := time.NewTimer(notifyGrace)
		defer t.Stop()
		select {
		case <-notified:
		case <-t.C:
		}
	}()

	ticker := time.NewTicker(m.opts.Interval)
	defer ticker.Stop()
	var (
		lastStart time.Time
		pending   *time.Timer // a trigger waiting for MinTriggerGap
		pendingC  <-chan time.Time
	)
	defer func() {
		if pending != nil {
			pending.Stop()
		}
	}()
	start := func() {
		lastStart = time.Now()
		if m.inFlight.Load() >= int64(m.maxInFlight) {
			m.skipped.Add(1)
			return
		}
		m.inFlight.Add(1)
		rounds.Add(1)
		go func() {
			defer rounds.Done()
			defer m.inFlight.Add(-1)
			m.round(ctx)
		}()
	}
	start()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			start()
		case <-pendingC:
			pendingC = nil
			start()
			ticker.Reset(m.opts.Interval)
		case <-m.trigger:
			if pendingC != nil {
				continue // merged into the one waiting
			}
			wait := m.opts.MinTriggerGap - time.Since(lastStart)
			if wait <= 0 {
				start()
				ticker.Reset(m.opts.Interval)
				continue
			}
			pending = time.NewTimer(wait)
			pendingC = pending.C
		}
	}
}

// watchLease tells when a lease runs out with no newer round (the role
// becomes unknown in logs, hooks and metrics). Nothing depends on it for
// safety: every reader reads the lease itself.
func (m *Monitor) watchLease(ctx context.Context) {
	for {
		changed := m.Changed()
		s := m.cur.Load()
		wait := time.Until(s.Expires)
		if wait < 0 {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
			t.Stop()
			continue
		case <-t.C:
		}
		m.mu.Lock()
		if m.cur.Load() == s {
			if next, ok := m.machine.Expire(m.now()); ok {
				m.publishLocked(next, nil)
			}
		}
		m.mu.Unlock()
		if m.cur.Load() == s { // nothing to tell: wait for a publication
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
		}
	}
}

// round runs every probe concurrently under one deadline and observes them.
func (m *Monitor) round(ctx context.Context) {
	started := m.now()
	rctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	results := make([]probe.Result, len(m.probers))
	var wg sync.WaitGroup
	for i, p := range m.probers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = p.Run(rctx)
			results[i].Probe = p.Spec.Name
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: a canceled round says nothing about IRIS
	}
	m.mu.Lock()
	next, applied := m.machine.Observe(started, m.now(), results...)
	if applied {
		m.publishLocked(next, results)
	} else {
		m.queue(event{results: results})
	}
	m.mu.Unlock()
	if applied {
		m.rounds.Add(1)
	} else {
		m.superseded.Add(1)
	}
}

// publishLocked stores next for the readers, wakes the followers and
// queues the event for the notifier. Nothing here can block.
func (m *Monitor) publishLocked(next *checker.Snapshot, results []probe.Result) {
	prev := m.cur.Swap(next)
	close(m.changed)
	m.changed = make(chan struct{})
	m.queue(event{prev: prev, next: next, results: results})
}

// waitTimeout waits for wg at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// Interval is the time between rounds.
func (m *Monitor) Interval() time.Duration { return m.opts.Interval }

// Once runs one round of probers under timeout and returns the snapshot a
// fresh state machine makes of it (for one-shot checks: the same decision
// as the loop's, from one round).
func Once(ctx context.Context, probers []Prober, timeout time.Duration) *checker.Snapshot {
	m := New(probers, Options{Interval: timeout, Timeout: timeout, Checker: checker.Config{Rise: 1, Fall: 1, Lease: time.Hour}}) // read once, at once
	m.round(ctx)
	return m.Snapshot()
}
