package checker

import (
	"fmt"
	"time"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// ProbeSpec names a configured probe and its (display-safe) target.
type ProbeSpec struct {
	Name   string
	Target string
}

// Machine turns probe results into a role. It is not safe for concurrent
// use: one goroutine (the poll loop) owns it and publishes its snapshots.
type Machine struct {
	cfg    Config
	specs  []ProbeSpec
	last   []ProbeState // last result per spec, in spec order
	seen   []bool
	role   Role
	reason string
	since  time.Time

	errStreak  int // consecutive role-source errors
	goodStreak int // consecutive authoritative role-source answers
	lastResult time.Time
	stale      bool
	draining   bool
	seq        uint64

	qlist       *probe.QList // last parsed qlist line; nil after an unparsed answer
	maintenance bool
	maintSource string

	snap *Snapshot
}

// New starts a machine in role Unknown at time now.
func New(cfg Config, specs []ProbeSpec, now time.Time) *Machine {
	if cfg.Rise < 1 {
		cfg.Rise = 1
	}
	if cfg.Fall < 1 {
		cfg.Fall = 1
	}
	m := &Machine{
		cfg:        cfg,
		specs:      append([]ProbeSpec(nil), specs...),
		last:       make([]ProbeState, len(specs)),
		seen:       make([]bool, len(specs)),
		role:       Unknown,
		reason:     "starting: no probe result yet",
		since:      now,
		lastResult: now,
	}
	for i, s := range specs {
		m.last[i] = ProbeState{Name: s.Name, Target: s.Target, Outcome: probe.Error, Reason: "not probed yet"}
	}
	m.publish(now)
	return m
}

// Snapshot returns the current immutable snapshot.
func (m *Machine) Snapshot() *Snapshot { return m.snap }

// Observe feeds one poll round (one result per probe that ran) taken at now.
func (m *Machine) Observe(now time.Time, results ...probe.Result) *Snapshot {
	var role *probe.Result
	for i := range results {
		r := &results[i]
		idx := m.index(r.Probe)
		if idx < 0 {
			continue
		}
		m.last[idx] = ProbeState{
			Name: r.Probe, Target: m.specs[idx].Target, Outcome: r.Outcome,
			Reason: r.Reason, Latency: r.Latency, At: now,
		}
		m.seen[idx] = true
		switch r.Probe {
		case probe.MirrorStatusName:
			role = r
		case probe.QListName:
			m.qlist = r.QList
		}
	}
	m.lastResult = now
	m.stale = false
	if role != nil {
		m.applyRoleSource(now, role)
	}
	return m.publish(now)
}

// Tick re-evaluates staleness at now. It returns the new snapshot and true
// when something changed, so the caller publishes only on change.
func (m *Machine) Tick(now time.Time) (*Snapshot, bool) {
	if m.cfg.StaleAfter <= 0 || m.stale || now.Sub(m.lastResult) <= m.cfg.StaleAfter {
		return m.snap, false
	}
	m.stale = true
	m.setRole(now, Unknown, fmt.Sprintf("probe stale: no result for %s", now.Sub(m.lastResult).Round(time.Millisecond)))
	return m.publish(now), true
}

// Drain marks the agent as shutting down: nothing is routable from now on.
func (m *Machine) Drain(now time.Time) *Snapshot {
	m.draining = true
	return m.publish(now)
}

// SetMaintenance takes the member out (on) or puts it back, with the
// source (such as "drain file /etc/...") shown in /status.
func (m *Machine) SetMaintenance(now time.Time, on bool, source string) *Snapshot {
	m.maintenance, m.maintSource = on, source
	if !on {
		m.maintSource = ""
	}
	return m.publish(now)
}

func (m *Machine) index(name string) int {
	for i, s := range m.specs {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// applyRoleSource moves the role on a mirror_status result: authoritative
// answers act at once (after Rise when leaving Down); errors need Fall in a
// row before the role becomes Down.
func (m *Machine) applyRoleSource(now time.Time, r *probe.Result) {
	var next Role
	switch r.Outcome {
	case probe.Primary:
		next = Primary
	case probe.NotPrimary:
		next = Standby
	default:
		m.goodStreak = 0
		m.errStreak++
		if m.errStreak >= m.cfg.Fall {
			m.setRole(now, Down, fmt.Sprintf("%s (%d in a row)", r.Reason, m.errStreak))
			return
		}
		m.reason = fmt.Sprintf("%s (%d/%d errors before down)", r.Reason, m.errStreak, m.cfg.Fall)
		if m.role == Unknown {
			m.reason = "starting: " + m.reason
		}
		return
	}
	m.errStreak = 0
	m.goodStreak++
	if m.role == Down && m.goodStreak < m.cfg.Rise {
		m.reason = fmt.Sprintf("recovering: %s (%d/%d good before up)", r.Reason, m.goodStreak, m.cfg.Rise)
		return
	}
	m.setRole(now, next, r.Reason)
}

func (m *Machine) setRole(now time.Time, role Role, reason string) {
	if role != m.role {
		m.role = role
		m.since = now
	}
	m.reason = reason
}

// publish builds a fresh immutable snapshot from the machine's state.
func (m *Machine) publish(now time.Time) *Snapshot {
	m.seq++
	s := &Snapshot{
		Seq:        m.seq,
		Role:       m.role,
		Reason:     m.reason,
		Since:      m.since,
		At:         now,
		LastResult: m.lastResult,
		Fresh:      !m.stale,
		Draining:   m.draining,
		Probes:     append([]ProbeState(nil), m.last...),

		Maintenance:       m.maintenance,
		MaintenanceSource: m.maintSource,
	}
	probesOK := true
	serverOK := true
	var firstBad *ProbeState
	for i := range s.Probes {
		p := &s.Probes[i]
		p.Healthy = m.seen[i] && p.Outcome.Healthy()
		if !p.Healthy {
			probesOK = false
			if firstBad == nil {
				firstBad = p
			}
			if p.Name != probe.MirrorStatusName {
				serverOK = false
			}
		}
	}
	m.crossCheck(s)
	s.Routable = !s.Draining && !s.Maintenance && s.Fresh && s.Role == Primary && probesOK && s.Conflict == ""
	s.Healthy = !s.Draining && s.Fresh && (s.Role == Primary || s.Role == Standby) && serverOK
	// A member whose last probe failed keeps its role (Fall damps it) but
	// is not routable; say which probe is at fault.
	if (s.Role == Primary || s.Role == Standby) && firstBad != nil && firstBad.Name != probe.MirrorStatusName {
		s.Reason = firstBad.Reason
	}
	if s.Conflict != "" && (firstBad == nil || firstBad.Name == probe.MirrorStatusName) {
		s.Reason = "qlist and mirror_status disagree: " + s.Conflict
	}
	if s.Maintenance {
		s.Reason = ReasonMaintenance + " (" + m.maintSource + ")"
	}
	if s.Draining {
		s.Reason = "shutting down"
	}
	m.snap = s
	return s
}

// crossCheck fills the qlist view of s and notes where qlist and
// mirror_status disagree on the primary. Either source alone can be
// wrong for a moment (a takeover in progress, a gateway pointed at the
// wrong member), so a disagreement is never routable.
func (m *Machine) crossCheck(s *Snapshot) {
	qi := m.index(probe.QListName)
	if qi < 0 || !m.seen[qi] || m.qlist == nil {
		return
	}
	s.Instance = m.qlist
	s.Mirror = MirrorOf(m.qlist)
	if !s.Probes[qi].Healthy {
		return // qlist's own failure already makes the member unroutable
	}
	switch {
	case s.Role == Primary && s.Mirror != MirrorPrimary:
		s.Conflict = "mirror_status says primary, qlist says " + mirrorText(m.qlist)
	case s.Role == Standby && s.Mirror == MirrorPrimary:
		s.Conflict = "mirror_status says not primary, qlist says " + mirrorText(m.qlist)
	}
}

func mirrorText(q *probe.QList) string {
	switch {
	case q.MemberType == "":
		return "not a mirror member"
	case q.MirrorStatus == "":
		return q.MemberType + " member without a mirror status"
	}
	return q.MemberType + " " + q.MirrorStatus
}
