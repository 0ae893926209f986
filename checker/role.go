// Package checker holds a member's role as a pure state machine.
//
// Probe results and the current time go in; an immutable Snapshot comes out.
// Nothing here reads a clock, sleeps or does I/O, so tests drive it with a
// fake clock.
package checker

import "time"

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
	numChecks
)

var checkNames = [numChecks]string{"primary", "standby", "health", "live"}

func (c Check) String() string {
	if c < numChecks {
		return checkNames[c]
	}
	return "invalid"
}

// Checks lists every check in order.
func Checks() []Check { return []Check{CheckPrimary, CheckStandby, CheckHealth, CheckLive} }

// ParseCheck maps a name (as in /primary or agent-send "primary") to a Check.
func ParseCheck(name string) (Check, bool) {
	for i, n := range checkNames {
		if n == name {
			return Check(i), true
		}
	}
	return 0, false
}

// Config holds the damping thresholds.
type Config struct {
	Rise       int           // consecutive good results to leave Down
	Fall       int           // consecutive errors to enter Down
	StaleAfter time.Duration // no result for this long makes the role Unknown
}
