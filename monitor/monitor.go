// Package monitor runs the poll loop: it calls the probes on a timer, feeds
// the role state machine and publishes each snapshot with an atomic store.
// Readers call Snapshot, which never waits on a probe.
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
	// OnRound, if set, is given every finished round's results from the
	// poll loop (for metrics). It must return quickly.
	OnRound func(results []probe.Result)
}

// Watcher is told about every published snapshot, in order, from the
// publishing goroutine. It must return quickly and never block.
type Watcher func(prev, next *checker.Snapshot)

// Monitor owns the state machine and the current snapshot.
type Monitor struct {
	opts    Options
	probers []Prober
	now     func() time.Time

	mu       sync.Mutex // serialises writers: poll loop, watchdog, Drain
	machine  *checker.Machine
	watchers []Watcher
	cur      atomic.Pointer[checker.Snapshot]

	trigger chan struct{}
	rounds  atomic.Uint64
	failing map[string]bool // probe name -> currently failing, for log damping
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
		machine: checker.New(opts.Checker, specs, now()),
		trigger: make(chan struct{}, 1),
		failing: map[string]bool{},
	}
	m.cur.Store(m.machine.Snapshot())
	return m
}

// Snapshot returns the current snapshot: one atomic load, never blocks.
func (m *Monitor) Snapshot() *checker.Snapshot { return m.cur.Load() }

// Rounds is the number of probe rounds finished since start.
func (m *Monitor) Rounds() uint64 { return m.rounds.Load() }

// Watch registers w. Call before Run.
func (m *Monitor) Watch(w Watcher) {
	m.mu.Lock()
	m.watchers = append(m.watchers, w)
	m.mu.Unlock()
}

// Trigger asks for a probe round now instead of at the next tick. It never
// blocks; a trigger while one is pending is merged into it, and the round
// waits for MinTriggerGap after the previous one.
func (m *Monitor) Trigger() {
	select {
	case m.trigger <- struct{}{}:
	default:
	}
}

// Drain makes every check fail with "shutting down" from now on.
func (m *Monitor) Drain() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(m.machine.Drain(m.now()))
}

// SetMaintenance takes the member out of every balancer (on) or puts it
// back, with the source shown in /status. It publishes at once.
func (m *Monitor) SetMaintenance(on bool, source string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.cur.Load(); cur.Maintenance == on && (!on || cur.MaintenanceSource == source) {
		return
	}
	ev := m.opts.Logger.Info().Str("member", m.opts.Member).Bool("maintenance", on)
	if on {
		ev = ev.Str("source", source)
	}
	ev.Msg("maintenance")
	m.publishLocked(m.machine.SetMaintenance(m.now(), on, source))
}

// Run polls until ctx is done. At most one round is in flight, and rounds
// start at most once per interval (a trigger may start one early, no
// sooner than MinTriggerGap after the previous one).
func (m *Monitor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.watchdog(ctx)
	}()
	defer wg.Wait()

	ticker := time.NewTicker(m.opts.Interval)
	defer ticker.Stop()
	for {
		started := time.Now()
		m.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-m.trigger:
			if wait := m.opts.MinTriggerGap - time.Since(started); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
			ticker.Reset(m.opts.Interval)
		}
	}
}

// round runs every probe concurrently under one deadline and observes them.
func (m *Monitor) round(ctx context.Context) {
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
	m.logProbes(results)
	m.mu.Lock()
	m.publishLocked(m.machine.Observe(m.now(), results...))
	m.mu.Unlock()
	m.rounds.Add(1)
	if m.opts.OnRound != nil {
		m.opts.OnRound(results)
	}
}

// watchdog marks the state stale when rounds stop finishing, whatever the
// poll loop is stuck on.
func (m *Monitor) watchdog(ctx context.Context) {
	period := m.opts.Checker.StaleAfter / 4
	if period <= 0 {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.mu.Lock()
			if s, changed := m.machine.Tick(m.now()); changed {
				m.publishLocked(s)
			}
			m.mu.Unlock()
		}
	}
}

func (m *Monitor) publishLocked(next *checker.Snapshot) {
	prev := m.cur.Swap(next)
	if prev != nil && (prev.Role != next.Role || prev.Routable != next.Routable) {
		ev := m.opts.Logger.Info()
		if next.Role == checker.Down || next.Role == checker.Unknown {
			ev = m.opts.Logger.Warn()
		}
		ev.Str("member", m.opts.Member).
			Str("previous_role", string(prev.Role)).
			Str("role", string(next.Role)).
			Bool("routable", next.Routable).
			Str("reason", next.Reason).
			Msg("role changed")
	}
	if prev != nil && prev.Conflict != next.Conflict {
		if next.Conflict != "" {
			m.opts.Logger.Warn().Str("member", m.opts.Member).Str("role", string(next.Role)).
				Str("conflict", next.Conflict).Msg("qlist and mirror_status disagree: not routable")
		} else {
			m.opts.Logger.Info().Str("member", m.opts.Member).Str("role", string(next.Role)).
				Str("mirror", string(next.Mirror)).Msg("qlist and mirror_status agree again")
		}
	}
	for _, w := range m.watchers {
		w(prev, next)
	}
}

// logProbes logs a probe's first failure at warn, repeats at debug, and the
// recovery at info, so a dead member does not flood the log.
func (m *Monitor) logProbes(results []probe.Result) {
	for _, r := range results {
		was := m.failing[r.Probe]
		switch {
		case !r.Outcome.Healthy() && !was:
			m.failing[r.Probe] = true
			m.opts.Logger.Warn().Str("member", m.opts.Member).Str("probe", r.Probe).
				Str("reason", r.Reason).Float64("latency_ms", ms(r.Latency)).Msg("probe failing")
		case !r.Outcome.Healthy():
			m.opts.Logger.Debug().Str("member", m.opts.Member).Str("probe", r.Probe).
				Str("reason", r.Reason).Float64("latency_ms", ms(r.Latency)).Msg("probe still failing")
		case was:
			m.failing[r.Probe] = false
			m.opts.Logger.Info().Str("member", m.opts.Member).Str("probe", r.Probe).
				Str("reason", r.Reason).Float64("latency_ms", ms(r.Latency)).Msg("probe recovered")
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
