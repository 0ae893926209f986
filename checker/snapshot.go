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

	// From iris qlist, when configured (see Machine.Observe).
	Mirror   Mirror       // the member's place in the mirror; empty if unknown
	Instance *probe.QList // the last parsed qlist line; nil if none. Never modify.
	// Conflict says why qlist and mirror_status disagree; empty when they
	// agree. A conflict makes the member not routable.
	Conflict string

	// Maintenance is set by an operator (drain file, admin socket): every
	// check but live fails with reason "maintenance".
	Maintenance       bool
	MaintenanceSource string
}

// Verdict answers one Check.
type Verdict struct {
	OK     bool
	Reason string
	// Maintenance: the check fails because an operator took the member
	// out, not because of IRIS (haproxy is told "maint", not "down").
	Maintenance bool
}

// ReasonMaintenance is the reason every check but live gives in maintenance.
const ReasonMaintenance = "maintenance"

// Evaluate answers check c from the snapshot alone.
func (s *Snapshot) Evaluate(c Check) Verdict {
	if s.Draining {
		return Verdict{Reason: "shutting down"}
	}
	if s.Maintenance && c != CheckLive {
		return Verdict{Reason: ReasonMaintenance, Maintenance: true}
	}
	switch c {
	case CheckPrimary:
		if s.Routable {
			return Verdict{OK: true, Reason: "primary"}
		}
		return s.notRole()
	case CheckStandby:
		if s.Role == Standby && s.Healthy && s.Conflict == "" && s.Mirror != MirrorTransition && s.Mirror != MirrorNone {
			return Verdict{OK: true, Reason: "standby"}
		}
		return s.notRole()
	case CheckBackup:
		return s.standbyAs(MirrorBackup)
	case CheckAsync:
		return s.standbyAs(MirrorAsync)
	case CheckHealth:
		if s.Healthy {
			return Verdict{OK: true, Reason: string(s.Role)}
		}
		return s.notRole()
	case CheckLive:
		if s.Fresh {
			return Verdict{OK: true, Reason: "live"}
		}
		return Verdict{Reason: s.Reason}
	}
	return Verdict{Reason: "unknown check"}
}

// standbyAs passes when the member is a healthy standby in mirror role m.
func (s *Snapshot) standbyAs(m Mirror) Verdict {
	if s.Role == Standby && s.Healthy && s.Conflict == "" && s.Mirror == m {
		return Verdict{OK: true, Reason: string(m)}
	}
	if s.Role == Standby && s.Healthy && s.Conflict == "" && s.Mirror == MirrorUnknown {
		return Verdict{Reason: "role standby: mirror role unknown (needs iris qlist: --qlist-instance)"}
	}
	return s.notRole()
}

func (s *Snapshot) notRole() Verdict {
	role := "role " + string(s.Role)
	if s.Mirror != MirrorUnknown && string(s.Mirror) != string(s.Role) {
		role += " (" + string(s.Mirror) + ")"
	}
	return Verdict{Reason: role + ": " + s.Reason}
}
