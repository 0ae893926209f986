package monitor

import (
	"context"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// queue hands e to the notifier, or counts it lost when the notifier is
// that far behind: a snapshot never waits for its logs.
func (m *Monitor) queue(e event) {
	select {
	case m.events <- e:
	default:
		m.lostEvents.Add(1)
	}
}

// notify tells logs, metrics and watchers about each event in order, and
// at the end about what is still queued.
func (m *Monitor) notify(ctx context.Context) {
	for {
		select {
		case e := <-m.events:
			m.tell(e)
		case <-ctx.Done():
			for {
				select {
				case e := <-m.events:
					m.tell(e)
				default:
					return
				}
			}
		}
	}
}

func (m *Monitor) tell(e event) {
	if e.results != nil && m.opts.OnRound != nil {
		m.opts.OnRound(e.results)
	}
	if e.next == nil {
		return
	}
	if e.results != nil {
		m.logProbes(e.results)
	}
	m.logChange(e.prev, e.next)
	for _, w := range m.watchers {
		w(e.prev, e.next)
	}
}

func (m *Monitor) logChange(prev, next *checker.Snapshot) {
	log := m.opts.Logger
	if prev.Role != next.Role || prev.Routable != next.Routable {
		ev := log.Info()
		if next.Role == checker.Down || next.Role == checker.Unknown {
			ev = log.Warn()
		}
		ev.Str("member", m.opts.Member).
			Str("previous_role", string(prev.Role)).
			Str("role", string(next.Role)).
			Bool("routable", next.Routable).
			Str("reason", next.Reason).
			Msg("role changed")
	}
	if prev.Conflict != next.Conflict {
		if next.Conflict != "" {
			log.Warn().Str("member", m.opts.Member).Str("role", string(next.Role)).
				Str("conflict", next.Conflict).Msg("qlist and mirror_status disagree: not routable")
		} else {
			log.Info().Str("member", m.opts.Member).Str("role", string(next.Role)).
				Str("mirror", string(next.MirrorRole)).Msg("qlist and mirror_status agree again")
		}
	}
	if prev.Maintenance != next.Maintenance || prev.MaintenanceSource != next.MaintenanceSource {
		ev := log.Info().Str("member", m.opts.Member).Bool("maintenance", next.Maintenance)
		if next.Maintenance {
			ev = ev.Str("source", next.MaintenanceSource)
		}
		ev.Msg("maintenance")
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
