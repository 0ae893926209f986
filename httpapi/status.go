package httpapi

import (
	"encoding/json"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
)

// Status is the JSON document served at /status. It holds no credentials:
// probe targets are stored already redacted.
type Status struct {
	Member     string          `json:"member"`
	Role       string          `json:"role"`
	Routable   bool            `json:"routable"`
	Healthy    bool            `json:"healthy"`
	Fresh      bool            `json:"fresh"`   // within the lease when rendered
	Expires    time.Time       `json:"expires"` // the lease: every check fails from then on
	Draining   bool            `json:"draining"`
	Reason     string          `json:"reason"`
	Since      time.Time       `json:"since"`
	LastResult time.Time       `json:"last_result"`
	Checks     map[string]bool `json:"checks"`
	Probes     []ProbeStatus   `json:"probes"`
	Settings   Settings        `json:"settings"`
	Version    string          `json:"version"`

	// From iris qlist (omitted without it).
	Mirror   string    `json:"mirror,omitempty"`
	Instance *Instance `json:"instance,omitempty"`
	Conflict string    `json:"conflict,omitempty"`
	// Maintenance: an operator took the member out (drain file or admin socket).
	Maintenance       bool   `json:"maintenance"`
	MaintenanceSource string `json:"maintenance_source,omitempty"`

	// Live holds what changes between snapshots (gates, fence, loop
	// counters), under its own keys; see Handler.Live.
	Live map[string]any `json:"-"`
}

// Instance is what the last iris qlist line said.
type Instance struct {
	Name         string `json:"name"`
	Version      string `json:"version,omitempty"`
	Status       string `json:"status"`
	State        string `json:"state,omitempty"`
	MemberType   string `json:"member_type,omitempty"`
	MirrorStatus string `json:"mirror_status,omitempty"`
}

// ProbeStatus is one probe's last result.
type ProbeStatus struct {
	Name      string    `json:"name"`
	Target    string    `json:"target"`
	Outcome   string    `json:"outcome"`
	Healthy   bool      `json:"healthy"`
	Reason    string    `json:"reason"`
	LatencyMS float64   `json:"latency_ms"`
	At        time.Time `json:"at,omitzero"`
}

// Settings echoes the timing settings that explain the agent's reactions.
type Settings struct {
	Interval string `json:"interval"`
	Timeout  string `json:"timeout"`
	Lease    string `json:"lease"`
	Rise     int    `json:"rise"`
	Fall     int    `json:"fall"`
}

// StatusOf builds the /status document for a snapshot read at now.
func StatusOf(s *checker.Snapshot, info Info, now time.Time) Status {
	st := Status{
		Member: info.Member, Role: string(s.Role), Routable: s.Routable, Healthy: s.Healthy,
		Fresh: s.Fresh(now), Expires: s.Expires.UTC(), Draining: s.Draining, Reason: s.Reason, Since: s.Since.UTC(),
		LastResult: s.LastResult.UTC(), Version: info.Version,
		Checks: map[string]bool{},
		Settings: Settings{
			Interval: info.Interval.String(), Timeout: info.Timeout.String(), Lease: info.Lease.String(),
			Rise: info.Rise, Fall: info.Fall,
		},
	}
	for _, q := range checker.Questions() {
		v := s.Verdict(q, now)
		st.Checks[q.String()] = v.OK
		if v.Stale {
			st.Routable, st.Healthy, st.Reason = false, false, v.Reason
		}
	}
	st.Mirror, st.Conflict = string(s.MirrorRole), s.Conflict
	st.Maintenance, st.MaintenanceSource = s.Maintenance, s.MaintenanceSource
	if q := s.QList; q != nil {
		st.Instance = &Instance{Name: q.Instance, Version: q.Version, Status: q.Status, State: q.State,
			MemberType: q.MemberType, MirrorStatus: q.MirrorStatus}
	}
	for _, p := range s.Probes {
		ps := ProbeStatus{
			Name: p.Name, Target: p.Target, Outcome: p.Outcome.String(), Healthy: p.Healthy,
			Reason: p.Reason, LatencyMS: float64(p.Latency.Microseconds()) / 1000,
		}
		if !p.At.IsZero() {
			ps.At = p.At.UTC()
		}
		st.Probes = append(st.Probes, ps)
	}
	return st
}

// MarshalJSON writes the document with the live parts merged in.
func (st Status) MarshalJSON() ([]byte, error) {
	type plain Status
	b, err := json.Marshal(plain(st))
	if err != nil || len(st.Live) == 0 {
		return b, err
	}
	extra, err := json.Marshal(st.Live)
	if err != nil {
		return nil, err
	}
	// {"member":...} + {"gates":...} -> {"member":...,"gates":...}
	return append(append(b[:len(b)-1], ','), extra[1:]...), nil
}
