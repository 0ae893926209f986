package checker

import (
	"strconv"
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
//
// Its verdicts are decided once, when it is made; a reader only asks
// Verdict with the time it answers at, which adds the one thing that
// changes with time: past Expires, every question fails.
type Snapshot struct {
	Seq     uint64 // increases with every publication
	Role    Role
	Reason  string    // why the role is what it is, or why not routable
	Since   time.Time // when Role last changed
	At      time.Time // when this snapshot was made
	Started time.Time // when the probe round behind it started; zero before the first
	// Expires is the lease: past it nothing here is believed. It is
	// Started + Config.Lease, and does not move with publications that are
	// not probe results (maintenance, shutdown).
	Expires    time.Time
	LastResult time.Time // when the last probe round finished; zero before the first
	Routable   bool      // role primary, every probe's last answer good, not draining or in maintenance (lease aside)
	Healthy    bool      // role primary or standby, servers answering, not draining (lease aside)
	Draining   bool      // the agent is shutting down
	Probes     []ProbeState

	// From iris qlist, when configured.
	MirrorRole probe.MirrorRole // the member's place in the mirror; empty if unknown
	QList      *probe.QList     // the last parsed qlist line; nil if none. Never modify.
	// Conflict says why qlist and mirror_status disagree; empty when they
	// agree. A conflict makes the member not routable.
	Conflict string

	// Maintenance is set by an operator (drain file, admin socket): every
	// question but live fails with reason "maintenance".
	Maintenance       bool
	MaintenanceSource string

	verdicts [numQuestions]Verdict
}

// Verdict answers one Question.
type Verdict struct {
	OK     bool
	Reason string
	// Maintenance: the question fails because an operator took the member
	// out, not because of IRIS (haproxy is told "maint", not "down").
	Maintenance bool
	// Stale: the snapshot's lease has run out.
	Stale bool
}

// ReasonMaintenance is the reason every question but live gives in maintenance.
const ReasonMaintenance = "maintenance"

// Verdict answers q at now. It is the only place the lease is read: a
// snapshot past its lease fails every question, whatever it held, so an
// answer cannot outlive the probe round behind it even if nothing publishes
// again (a stuck loop, a blocked log, a lost goroutine). Shutting down and
// maintenance are the agent's own state, not IRIS's, and keep their reason.
func (s *Snapshot) Verdict(q Question, now time.Time) Verdict {
	if q >= numQuestions {
		return Verdict{Reason: "unknown question"}
	}
	v := s.verdicts[q]
	if now.Before(s.Expires) || s.Draining || v.Maintenance {
		return v
	}
	return s.stale(now)
}

// Fresh reports whether the lease holds at now.
func (s *Snapshot) Fresh(now time.Time) bool { return now.Before(s.Expires) }

// stale is the verdict of a question asked past the lease.
func (s *Snapshot) stale(now time.Time) Verdict {
	if s.LastResult.IsZero() {
		return Verdict{Reason: "stale: no probe result since start " + ago(now.Sub(s.At)) + " ago", Stale: true}
	}
	return Verdict{Reason: "stale: no probe result for " + ago(now.Sub(s.LastResult)), Stale: true}
}

// ago renders d as 1.2s or 350ms.
func ago(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

// decide fills the verdict of every question from the snapshot's fields.
func (s *Snapshot) decide() {
	for q := range numQuestions {
		s.verdicts[q] = s.decideOne(q)
	}
}

func (s *Snapshot) decideOne(q Question) Verdict {
	if s.Draining {
		return Verdict{Reason: "shutting down"}
	}
	if s.Maintenance && q != AskLive {
		return Verdict{Reason: ReasonMaintenance, Maintenance: true}
	}
	switch q {
	case AskPrimary:
		if s.Routable {
			return Verdict{OK: true, Reason: "primary"}
		}
		return s.notRole()
	case AskStandby:
		if s.Role == Standby && s.Healthy && s.Conflict == "" && s.MirrorRole != probe.MirrorTransition && s.MirrorRole != probe.MirrorNone {
			return Verdict{OK: true, Reason: "standby"}
		}
		return s.notRole()
	case AskBackup:
		return s.standbyAs(probe.MirrorBackup)
	case AskAsync:
		return s.standbyAs(probe.MirrorAsync)
	case AskHealth:
		if s.Healthy {
			return Verdict{OK: true, Reason: string(s.Role)}
		}
		return s.notRole()
	case AskLive:
		return Verdict{OK: true, Reason: "live"}
	}
	return Verdict{Reason: "unknown question"}
}

// standbyAs passes when the member is a healthy standby in mirror role m.
func (s *Snapshot) standbyAs(m probe.MirrorRole) Verdict {
	if s.Role == Standby && s.Healthy && s.Conflict == "" && s.MirrorRole == m {
		return Verdict{OK: true, Reason: string(m)}
	}
	if s.Role == Standby && s.Healthy && s.Conflict == "" && s.MirrorRole == probe.MirrorUnknown {
		return Verdict{Reason: "role standby: mirror role unknown (needs iris qlist: --qlist-instance)"}
	}
	return s.notRole()
}

func (s *Snapshot) notRole() Verdict {
	role := "role " + string(s.Role)
	if s.MirrorRole != probe.MirrorUnknown && string(s.MirrorRole) != string(s.Role) {
		role += " (" + string(s.MirrorRole) + ")"
	}
	return Verdict{Reason: role + ": " + s.Reason}
}
