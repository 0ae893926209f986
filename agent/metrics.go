package agent

import (
	"fmt"

	"github.com/irismirror/iris-mirror-agent/metrics"
)

// registerMetrics adds what the metrics registry reads from the other
// parts at each scrape: the loop's, the agent-check port's and the gates'
// counters, and the log lines dropped.
func (a *Agent) registerMetrics() {
	r := a.reg
	if r == nil {
		return
	}
	r.AddCounter("probe_rounds_superseded_total", "Probe rounds that finished after a newer one had answered (a slow answer overtaken).",
		metrics.Func{Value: func() float64 { return float64(a.mon.Stats().Superseded) }})
	r.AddCounter("probe_rounds_skipped_total", "Probe rounds not started because too many were still waiting on IRIS.",
		metrics.Func{Value: func() float64 { return float64(a.mon.Stats().Skipped) }})
	r.AddCounter("agent_check_waits_total", "Agent-checks whose client sent no word with its connection, by outcome: waited (answered after waiting for the word), full (answered at once: too many waiting).",
		metrics.Func{Labels: `result="waited"`, Value: func() float64 { return float64(a.agent.Stats().Waited) }},
		metrics.Func{Labels: `result="full"`, Value: func() float64 { return float64(a.agent.Stats().Full) }})
	dropped := func() float64 { return 0 }
	if a.opts.LogDropped != nil {
		dropped = func() float64 { return float64(a.opts.LogDropped()) }
	}
	r.AddCounter("log_lines_dropped_total", "Log lines dropped because the log output was not being read (a full pipe); answers never wait for the log.",
		metrics.Func{Value: dropped})
	if len(a.gates) == 0 {
		return
	}
	var open, full, notOpen, cut []metrics.Func
	for _, g := range a.gates {
		l := fmt.Sprintf("gate=%q", g.Listen())
		open = append(open, metrics.Func{Labels: l, Value: func() float64 {
			if g.Stats().State == "open" {
				return 1
			}
			return 0
		}})
		full = append(full, metrics.Func{Labels: l + `,reason="full"`, Value: func() float64 { return float64(g.Stats().OverLimit) }})
		notOpen = append(notOpen, metrics.Func{Labels: l + `,reason="not_open"`, Value: func() float64 { return float64(g.Stats().NotOpen) }})
		cut = append(cut, metrics.Func{Labels: l, Value: func() float64 { return float64(g.Stats().Cut) }})
	}
	r.AddGauge("gate_open", "1 while the gate listens (its question passes within the lease), by gate listen address.", open...)
	r.AddCounter("gate_rejected_total", "Connections a gate accepted and reset: full (at --gate-max-sessions) or not_open (the verdict's lease had run out). Connects to a closed gate are refused by the kernel and not counted here.",
		append(full, notOpen...)...)
	r.AddCounter("gate_sessions_cut_total", "Forwarded sessions a gate cut when its member stopped passing (after --gate-drain).", cut...)
}
