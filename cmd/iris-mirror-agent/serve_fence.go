package main

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/fence"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/metrics"
	"github.com/irismirror/iris-mirror-agent/monitor"
)

// setupFence builds serve's --fence (nil without it), closed until the
// first fresh primary verdict, and has it follow mon: call it after every
// port is bound (an agent that cannot start leaves the fence as it was)
// and before mon runs (the fence is closed before the first probe).
func setupFence(cfg *config.Serve, mon *monitor.Monitor, log zerolog.Logger) (*fence.Fence, error) {
	spec := cfg.FenceSpec()
	if len(spec.Ports) == 0 {
		return nil, nil
	}
	f, err := fence.New(fence.Config{
		Rule:  fence.Rule{Ports: spec.Ports, Allow: spec.Allow},
		Drain: cfg.FenceDrain, Member: cfg.Member, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("--fence: %w", err)
	}
	stale := cfg.StaleAfter()
	mon.Watch(func(_, next *checker.Snapshot) {
		if next.Draining {
			// Stopping: the fence stays as the last verdict had it (a
			// restart on a primary must not cut its clients).
			f.Hold()
			return
		}
		v := next.Evaluate(checker.CheckPrimary)
		// lease: the verdict holds until its probe results go stale; to
		// become snap.Verdict(checker.CheckPrimary, now) and snap.Expires.
		f.Set(v.OK, next.LastResult.Add(stale), v.Reason)
	})
	return f, nil
}

// fenceExtras shows the fence in /status and /metrics.
func fenceExtras(f *fence.Fence, h *httpapi.Handler, reg *metrics.Registry) {
	if f == nil {
		return
	}
	h.Fence = func() any { return f.Stats() }
	if reg != nil {
		reg.AddFence(f.Open, func() uint64 { return f.Stats().Rejected }, func() uint64 { return f.Stats().Cut })
	}
}
