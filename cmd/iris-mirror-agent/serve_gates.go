package main

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/gate"
	"github.com/irismirror/iris-mirror-agent/monitor"
)

// gates are serve's --gate ports, following the monitor's snapshots.
type gates []*gate.Gate

// setupGates builds the configured gates, counting with counter (may be
// nil), and has them follow mon (call before mon runs). Each LISTEN is bound once and released, so a port in
// use fails at start like the other listeners; a gate only listens while
// its role allows.
func setupGates(cfg *config.Serve, mon *monitor.Monitor, counter gate.Counter, log zerolog.Logger) (gates, error) {
	specs, err := cfg.GateSpecs()
	if err != nil {
		return nil, err
	}
	var gs gates
	for _, s := range specs {
		ln, err := net.Listen("tcp", s.Listen)
		if err != nil {
			return nil, fmt.Errorf("--gate %s: %v", s.Listen, errors.Unwrap(err))
		}
		ln.Close()
		check := checker.CheckPrimary
		if s.Role == config.GateRoleStandby {
			check = checker.CheckStandby
		}
		g, err := gate.New(gate.Config{
			Listen: s.Listen, Target: s.Target, Check: check,
			Drain: cfg.GateDrain, ConnectTimeout: cfg.GateConnectTimeout, MaxSessions: cfg.GateMaxSessions,
			Member: cfg.Member, Logger: log, Counter: counter,
		})
		if err != nil {
			return nil, fmt.Errorf("--gate %s=%s: %w", s.Listen, s.Target, err)
		}
		log.Info().Str("member", cfg.Member).Str("listen", s.Listen).Str("target", s.Target).
			Str("opens_on", check.String()).Stringer("drain", cfg.GateDrain).Msg("gate configured")
		gs = append(gs, g)
	}
	if len(gs) > 0 {
		mon.Watch(func(_, next *checker.Snapshot) {
			for _, g := range gs {
				g.Update(next)
			}
		})
	}
	return gs, nil
}

// gateCounter is what the gates count their traffic with: the metrics
// registry, or nil with --metrics=false.
func gateCounter(o *ops) gate.Counter {
	if o.reg == nil {
		return nil
	}
	return o.reg
}

// run starts every gate in the group.
func (gs gates) run(grp *group) {
	for _, g := range gs {
		grp.Go(func(ctx context.Context) error { return g.Run(ctx) })
	}
}

// status is the "gates" part of /status, or nil when there is no gate (so
// /status stays rendered once per snapshot).
func (gs gates) status() func() any {
	if len(gs) == 0 {
		return nil
	}
	return func() any {
		out := make([]gate.Stats, len(gs))
		for i, g := range gs {
			out[i] = g.Stats()
		}
		return out
	}
}
