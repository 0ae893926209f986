package checker

import (
	"time"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// ProbeState is the last result of one configured probe.
type ProbeState struct {
	Name    string
	Target  string // display-safe target (no credentials)
	Outcome probe.Outcome
	Healthy bool // probed at least once and the last answer was good
	Reason  string
	Latency time.Duration
	At      time.Time // when the result was observed; zero if never
}

// Snapshot is one immutable view of the member, published by the poll loop
// and read by every balancer-facing listener. Never modify a published one.
type Snapshot struct {
	Seq        uint64 // increases with every publication
	Role       Role
	Reason     string    // why the role is what it is, or why not routable
	Since      time.Time // when Role last changed
	At         time.Time // when this snapshot was made
	LastResult time.Time // when the last probe round finished
	Routable   bool      // role primary, every probe's last answer good, fresh, not draining
	Healthy    bool      // role primary or standby, servers answering, fresh, not draining
	Fresh      bool      // a probe round finished within the stale limit
	Draining   bool      // the agent is shutting down
	Probes     []ProbeState
}

// Verdict answers one Check.
type Verdict struct {
	OK     bool
	Reason string
}

// Evaluate answers check c from the snapshot alone.
func (s *Snapshot) Evaluate(c Check) Verdict {
	if s.Draining {
		return Verdict{Reason: "shutting down"}
	}
	switch c {
	case CheckPrimary:
		if s.Routable {
			return Verdict{OK: true, Reason: "primary"}
		}
		return Verdict{Reason: "role " + string(s.Role) + ": " + s.Reason}
	case CheckStandby:
		if s.Role == Standby && s.Healthy {
			return Verdict{OK: true, Reason: "standby"}
		}
		return Verdict{Reason: "role " + string(s.Role) + ": " + s.Reason}
	case CheckHealth:
		if s.Healthy {
			return Verdict{OK: true, Reason: string(s.Role)}
		}
		return Verdict{Reason: "role " + string(s.Role) + ": " + s.Reason}
	case CheckLive:
		if s.Fresh {
			return Verdict{OK: true, Reason: "live"}
		}
		return Verdict{Reason: s.Reason}
	}
	return Verdict{Reason: "unknown check"}
}
