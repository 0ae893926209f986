// Package checker holds a member's role as a pure state machine.
//
// Probe results and the current time go in; an immutable Snapshot comes out.
// Nothing here reads a clock, sleeps or does I/O, so tests drive it with a
// fake clock.
package checker

import (
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// Role is what the agent believes the member is.
type Role string

const (
	// Unknown: no usable result yet, or results went stale. Never routable.
	Unknown Role = "unknown"
	// Primary: mirror_status.cxw said SUCCESS.
	Primary Role = "primary"
	// Standby: IRIS is up and authoritatively not the primary (503).
	Standby Role = "standby"
	// Down: IRIS did not answer for Fall consecutive probes. Never routable.
	Down Role = "down"
)

// Check is a question a balancer asks: the HTTP path without its slash, and
// the word haproxy sends with agent-send.
type Check uint8

const (
	// CheckPrimary passes iff the member is a routable primary.
	CheckPrimary Check = iota
	// CheckStandby passes iff the member is a healthy standby.
	CheckStandby
	// CheckHealth passes iff IRIS is up, primary or standby.
	CheckHealth
	// CheckLive passes iff the agent runs and its results are fresh.
	CheckLive
	// CheckBackup passes iff the member is a healthy failover backup
	// (known only from iris qlist).
	CheckBackup
	// CheckAsync passes iff the member is a healthy async: disaster
	// recovery or reporting (known only from iris qlist).
	CheckAsync
	numChecks
)

var checkNames = [numChecks]string{"primary", "standby", "health", "live", "backup", "async"}

func (c Check) String() string {
	if c < numChecks {
		return checkNames[c]
	}
	return "invalid"
}

// Checks lists every check in order. HTTP paths and agent-send words are
// derived from it, so a new check needs no other table.
func Checks() []Check {
	out := make([]Check, numChecks)
	for i := range out {
		out[i] = Check(i)
	}
	return out
}

// NumChecks is the number of checks, for tables indexed by Check.
const NumChecks = int(numChecks)

// ParseCheck maps a name (as in /primary or agent-send "primary") to a
// Check. It does not allocate: the HTTP and agent-check paths call it.
func ParseCheck(name string) (Check, bool) {
	for i, n := range checkNames {
		if n == name {
			return Check(i), true
		}
	}
	return 0, false
}

// Mirror is the member's place in the mirror as iris qlist reports it. It
// refines Role (which mirror_status decides) and is empty without qlist.
type Mirror string

const (
	// MirrorUnknown: no qlist configured, or no usable qlist answer.
	MirrorUnknown Mirror = ""
	// MirrorPrimary: mirror status Primary.
	MirrorPrimary Mirror = "primary"
	// MirrorBackup: the failover backup (mirror status Backup).
	MirrorBackup Mirror = "backup"
	// MirrorAsync: member type Disaster Recovery (or reporting), or status
	// Connected.
	MirrorAsync Mirror = "async"
	// MirrorTransition: taking over or giving up the primary role; never
	// routable.
	MirrorTransition Mirror = "transition"
	// MirrorInactive: a failover member that is not an active backup yet
	// (Synchronizing, Waiting, Down, Not Initialized).
	MirrorInactive Mirror = "inactive"
	// MirrorNone: the instance is not a mirror member.
	MirrorNone Mirror = "none"
)

// MirrorOf reads the mirror role from a qlist line.
func MirrorOf(q *probe.QList) Mirror {
	switch {
	case q == nil || q.StatusWord() == "down":
		return MirrorUnknown
	case strings.EqualFold(q.MirrorStatus, "Transition") || strings.Contains(strings.ToLower(q.Status), "primary transition"):
		return MirrorTransition
	case strings.EqualFold(q.MirrorStatus, "Primary"):
		return MirrorPrimary
	case strings.EqualFold(q.MirrorStatus, "Backup"):
		return MirrorBackup
	case strings.EqualFold(q.MirrorStatus, "Connected"), q.MemberType != "" && !strings.EqualFold(q.MemberType, "Failover"):
		return MirrorAsync
	case q.MemberType == "":
		return MirrorNone
	default:
		return MirrorInactive
	}
}

// Config holds the damping thresholds.
type Config struct {
	Rise       int           // consecutive good results to leave Down
	Fall       int           // consecutive errors to enter Down
	StaleAfter time.Duration // no result for this long makes the role Unknown
}
