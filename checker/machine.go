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
// use: its owner (the monitor) serialises calls and publishes its snapshots.
type Machine struct {
	cfg    Config
	specs  []ProbeSpec
	last   []ProbeState // last result per spec, in spec order
	seen   []bool
	role   Role
	reason string
	since  time.Time
	flap   damper

	started    time.Time // start of the newest round observed
	lastResult time.Time
	expires    time.Time
	expired    bool // Expire has made the role unknown since the last round
	draining   bool
	seq        uint64

	qlist       *probe.QList // last parsed qlist line; nil after an unparsed answer
	maintenance bool
	maintSource string

	snap *Snapshot
}

// New starts a machine in role Unknown at time now. Its first snapshot
// is fresh for one lease (live passes while the first round runs) and
// routable for nobody.
func New(cfg Config, specs []ProbeSpec, now time.Time) *Machine {
	m := &Machine{
		cfg:     cfg,
		specs:   append([]ProbeSpec(nil), specs...),
		last:    make([]ProbeState, len(specs)),
		seen:    make([]bool, len(specs)),
		role:    Unknown,
		reason:  "starting: no probe result yet",
		since:   now,
		flap:    newDamper(cfg.Rise, cfg.Fall),
		expires: now.Add(cfg.Lease),
	}
	for i, s := range specs {
		m.last[i] = ProbeState{Name: s.Name, Target: s.Target, Outcome: probe.Error, Reason: "not probed yet"}
	}
	m.publish(now)
	return m
}

// Snapshot returns the current immutable snapshot.
func (m *Machine) Snapshot() *Snapshot { return m.snap }

// Observe feeds one finished probe round (one result per probe that ran),
// which started at started and is observed at now. Rounds may overlap: a
// round that started before one already observed is superseded, changes
// nothing and returns false. Otherwise the new snapshot's lease runs from
// started.
func (m *Machine) Observe(started, now time.Time, results ...probe.Result) (*Snapshot, bool) {
	if started.Before(m.started) {
		return m.snap, false
	}
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
	m.started, m.lastResult = started, now
	m.expires = started.Add(m.cfg.Lease)
	m.expired = false
	if role != nil {
		m.applyRoleSource(now, role)
	}
	return m.publish(now), true
}

// Expire records that the lease ran out at now with no newer round: the
// role becomes unknown, so logs, hooks and metrics hear of it. Readers do
// not need it (they read the lease themselves); it changes nothing for
// them and does not move the lease. It returns false when there is nothing
// to tell (the lease holds, or Expire already said so).
func (m *Machine) Expire(now time.Time) (*Snapshot, bool) {
	// Down already tells that IRIS does not answer, and a hung member's
	// rounds end just as the lease of the one before runs out: made
	// unknown at each expiry, its role would flap down, unknown, down in
	// logs and hooks every round. Readers still read the lease itself.
	if m.expired || now.Before(m.expires) || m.role == Down {
		return m.snap, false
	}
	m.expired = true
	// The errors counted toward --fall stay counted: an expiry is not an
	// answer, and the rounds of a hung member end with their errors just as
	// the lease of the one before runs out (timeout + interval is the
	// default lease), so a count that restarted at each expiry would never
	// reach down.
	m.setRole(now, Unknown, m.snap.stale(now).Reason)
	return m.publish(now), true
}

// Drain marks the agent as shutting down: nothing is routable from now on.
func (m *Machine) Drain(now time.Time) *Snapshot {
	m.draining = true
	return m.publish(now)
}

// SetMaintenance takes the member out (on) or puts it back, with the
// source (such as "drain file /etc/...") shown in /status. The lease is
// the last round's: an operator's switch is not news from IRIS.
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
		if m.flap.failed() {
			m.setRole(now, Down, fmt.Sprintf("%s (%d in a row)", r.Reason, m.flap.bad))
			return
		}
		m.reason = fmt.Sprintf("%s (%d/%d errors before down)", r.Reason, m.flap.bad, m.flap.fall)
		if m.role == Unknown {
			m.reason = "starting: " + m.reason
		}
		return
	}
	if !m.flap.passed() && m.role == Down {
		m.reason = fmt.Sprintf("recovering: %s (%d/%d good before up)", r.Reason, m.flap.good, m.flap.rise)
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
		Started:    m.started,
		Expires:    m.expires,
		LastResult: m.lastResult,
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
	s.Routable = !s.Draining && !s.Maintenance && s.Role == Primary && probesOK && s.Conflict == ""
	s.Healthy = !s.Draining && (s.Role == Primary || s.Role == Standby) && serverOK
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
	s.decide()
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
	s.QList = m.qlist
	s.MirrorRole = m.qlist.MirrorRole()
	if !s.Probes[qi].Healthy {
		return // qlist's own failure already makes the member unroutable
	}
	switch {
	case s.Role == Primary && s.MirrorRole != probe.MirrorPrimary:
		s.Conflict = "mirror_status says primary, qlist says " + m.qlist.MirrorText()
	case s.Role == Standby && s.MirrorRole == probe.MirrorPrimary:
		s.Conflict = "mirror_status says not primary, qlist says " + m.qlist.MirrorText()
	}
}
