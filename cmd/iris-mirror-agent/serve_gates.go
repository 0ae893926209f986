package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/gate"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/monitor"
)

// gates are serve's --gate ports, following the monitor's snapshots.
type gates []*gate.Gate

// setupGates builds the configured gates, counting with counter (may be
// nil), and has them follow mon (call before mon runs). Each LISTEN is
// bound once and released, so a port in use fails at start like the other
// listeners; a gate only listens while its role allows.
func setupGates(cfg *config.Serve, mon *monitor.Monitor, counter gate.Counter, log zerolog.Logger) (gates, error) {
	specs, err := cfg.GateSpecs()
	if err != nil {
		return nil, err
	}
	for _, s := range specs {
		ln, err := net.Listen("tcp", s.Listen)
		if err != nil {
			return nil, fmt.Errorf("--gate %s: %v", s.Listen, errors.Unwrap(err))
		}
		ln.Close()
	}
	maxSessions := gateSessionCap(cfg.GateMaxSessions, len(specs), log)
	var gs gates
	for _, s := range specs {
		check := checker.CheckPrimary
		if s.Role == config.GateRoleStandby {
			check = checker.CheckStandby
		}
		g, err := gate.New(gate.Config{
			Listen: s.Listen, Target: s.Target, Check: check,
			Drain: cfg.GateDrain, ConnectTimeout: cfg.GateConnectTimeout, MaxSessions: maxSessions,
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

// gateSessionCap is the session cap of each of n gates: --gate-max-sessions,
// lowered when the agent's descriptor limit could not hold every gate full.
// Without it a flood of idle sessions takes the last descriptors, and then
// the agent's own probes fail (the member turns not routable: the flood
// would move the primary's traffic) and its ports stop accepting checks.
// A share of the limit stays with the agent: its HTTP connections, probes,
// agent-checks in flight, admin socket and hooks.
func gateSessionCap(want, n int, log zerolog.Logger) int {
	limit, ok := openFileLimit()
	if !ok || n == 0 {
		return want
	}
	reserve := min(limit/2, httpapi.MaxConns+256)
	fit := gate.FitSessions(limit-reserve, n)
	if want <= fit {
		return want
	}
	log.Warn().Int("gate_max_sessions", want).Int("lowered_to", fit).Int("rlimit_nofile", limit).
		Int("gates", n).Int("descriptors_per_session", gate.DescriptorsPerSession).Int("kept_for_the_agent", reserve).
		Msg("--gate-max-sessions lowered to fit the open-file limit; raise LimitNOFILE (ulimit -n) to keep it")
	return fit
}

// openFileLimit is the agent's RLIMIT_NOFILE (Go's runtime has already
// raised the soft limit to the hard one); unlimited counts as 2^31-1.
func openFileLimit() (int, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	return int(min(lim.Cur, math.MaxInt32)), true
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
