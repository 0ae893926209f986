package agent

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/fence"
	"github.com/irismirror/iris-mirror-agent/metrics"
)

// buildFence builds --fence's fence (nil without it), closed until the
// first fresh primary verdict. New calls it last, once every port is
// bound (an agent that cannot start leaves the fence as it was), and
// before Run (the fence is closed before the first probe).
func buildFence(cfg *config.Serve, log zerolog.Logger) (*fence.Fence, error) {
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
	return f, nil
}

// followFence sets the fence from a published snapshot: the primary
// verdict as decided, and the snapshot's lease, which the fence holds.
// Once the agent is shutting down the fence stays as the last verdict had
// it: "shutting down" says nothing about IRIS, and a restart on a primary
// must not cut its clients.
func followFence(f *fence.Fence, s *checker.Snapshot) {
	if f == nil {
		return
	}
	if s.Draining {
		f.Hold()
		return
	}
	if s.Started.IsZero() {
		// No probe round behind it yet: not a verdict. The fence stays
		// closed as New left it, cutting nothing (an agent restarting
		// on a primary must not cut its clients).
		return
	}
	v := s.Verdict(checker.AskPrimary, s.At)
	f.Set(v.OK, s.Expires, v.Reason)
}

// registerFenceMetrics adds the fence's gauge and counters.
func (a *Agent) registerFenceMetrics() {
	if a.reg == nil || a.fence == nil {
		return
	}
	f := a.fence
	a.reg.AddGauge("fence_open", "1 while the fence lets clients connect (the member is a routable primary), 0 while its kernel refuses them.",
		metrics.Func{Value: func() float64 {
			if f.Open() {
				return 1
			}
			return 0
		}})
	a.reg.AddCounter("fence_rejected_total", "New connections to the fenced ports the kernel refused (reset) since the agent started.",
		metrics.Func{Value: func() float64 { return float64(f.Stats().Rejected) }})
	a.reg.AddCounter("fence_sessions_cut_total", "Established sessions to the fenced ports the fence cut since the agent started.",
		metrics.Func{Value: func() float64 { return float64(f.Stats().Cut) }})
}
