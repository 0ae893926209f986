package agent

import (
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
	"github.com/irismirror/iris-mirror-agent/metrics"
)

// followedGate is a gate and the question that opens it.
type followedGate struct {
	*gate.Gate
	question checker.Question
}

// buildGates builds the configured gates, counting with reg (may be nil).
// Each LISTEN is bound once and released, so a port in use fails at start
// like the other listeners; a gate only listens while its verdict allows.
func buildGates(cfg *config.Serve, reg *metrics.Registry, onRefused func(), log zerolog.Logger) ([]*followedGate, error) {
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
	var counter gate.Counter
	if reg != nil {
		counter = reg
	}
	maxSessions := gateSessionCap(cfg.GateMaxSessions, len(specs), log)
	var gs []*followedGate
	for _, s := range specs {
		q := checker.AskPrimary
		if s.Role == config.GateRoleStandby {
			q = checker.AskStandby
		}
		g, err := gate.New(gate.Config{
			Listen: s.Listen, Target: s.Target, OpensOn: q.String(),
			Drain: cfg.GateDrain, ConnectTimeout: cfg.GateConnectTimeout, MaxSessions: maxSessions,
			Member: cfg.Member, Logger: log, Counter: counter, OnTargetRefused: onRefused,
		})
		if err != nil {
			return nil, fmt.Errorf("--gate %s=%s: %w", s.Listen, s.Target, err)
		}
		log.Info().Str("member", cfg.Member).Str("listen", s.Listen).Str("target", s.Target).
			Str("opens_on", q.String()).Stringer("drain", cfg.GateDrain).Msg("gate configured")
		gs = append(gs, &followedGate{Gate: g, question: q})
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
