// Package checker holds a member's role as a pure state machine and decides,
// once per snapshot, the verdict of every question a balancer may ask.
//
// Probe results and the current time go in; an immutable Snapshot comes
// out. Nothing here reads a clock, sleeps or does I/O, so tests drive it
// with a fake clock. Every snapshot carries a lease: readers ask it for a
// verdict with the time they answer at, and past the lease it fails closed.
package checker

import (
	"time"
)

// Role is what the agent believes the member is.
type Role string

const (
	// Unknown: no usable result yet. Never routable.
	Unknown Role = "unknown"
	// Primary: mirror_status.cxw said SUCCESS.
	Primary Role = "primary"
	// Standby: IRIS is up and authoritatively not the primary (503 FAILED).
	Standby Role = "standby"
	// Down: IRIS did not answer for Fall consecutive probes. Never routable.
	Down Role = "down"
)

// Question is what a balancer asks: the HTTP path without its slash, and
// the word haproxy sends with agent-send.
type Question uint8

const (
	// AskPrimary passes iff the member is a routable primary.
	AskPrimary Question = iota
	// AskStandby passes iff the member is a healthy standby.
	AskStandby
	// AskHealth passes iff IRIS is up, primary or standby.
	AskHealth
	// AskLive passes iff the agent runs and its answers are within their lease.
	AskLive
	// AskBackup passes iff the member is a healthy failover backup (known
	// only from iris qlist).
	AskBackup
	// AskAsync passes iff the member is a healthy async: disaster recovery
	// or reporting (known only from iris qlist).
	AskAsync
	numQuestions
)

// NumQuestions is the number of questions, for tables indexed by Question.
const NumQuestions = int(numQuestions)

var questionNames = [numQuestions]string{"primary", "standby", "health", "live", "backup", "async"}

func (q Question) String() string {
	if q < numQuestions {
		return questionNames[q]
	}
	return "invalid"
}

// Questions lists every question in order. HTTP paths and agent-send words
// are derived from it, so a new question needs no other table.
func Questions() []Question {
	out := make([]Question, numQuestions)
	for i := range out {
		out[i] = Question(i)
	}
	return out
}

// ParseQuestion maps a name (as in /primary or agent-send "primary") to a
// Question. It does not allocate: the HTTP and agent-check paths call it.
func ParseQuestion(name string) (Question, bool) {
	for i, n := range questionNames {
		if n == name {
			return Question(i), true
		}
	}
	return 0, false
}

// Config holds the damping thresholds and the lease.
type Config struct {
	Rise int // consecutive good results to leave Down
	Fall int // consecutive errors to enter Down
	// Lease is how long after the start of the round that produced it a
	// snapshot is believed. Past it every question fails ("stale"), however
	// the poll loop is doing.
	Lease time.Duration
}
