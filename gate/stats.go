package gate

// Stats is a gate's state and counters, as shown in /status.
type Stats struct {
	Listen        string `json:"listen"`
	Target        string `json:"target"`
	OpensOn       string `json:"opens_on"`          // the check that opens it: primary or standby
	State         string `json:"state"`             // open or closed
	Address       string `json:"address,omitempty"` // bound address while open
	Reason        string `json:"reason"`            // the check's last verdict
	LastError     string `json:"last_error,omitempty"`
	DrainMS       int64  `json:"drain_ms"`
	OpenSessions  int    `json:"open_sessions"`
	MaxSessions   int    `json:"max_sessions"`
	Sessions      uint64 `json:"sessions_total"`
	BytesToTarget uint64 `json:"bytes_to_target"`
	BytesToClient uint64 `json:"bytes_to_client"`
	DialFailures  uint64 `json:"target_dial_failures"`
	Cut           uint64 `json:"sessions_cut"`
	OverLimit     uint64 `json:"sessions_refused_over_limit"`
	NotOpen       uint64 `json:"sessions_refused_not_open"` // accepted as the gate closed, or past the lease: reset
	Opened        uint64 `json:"listener_opened"`
	Closed        uint64 `json:"listener_closed"`
	ListenErrors  uint64 `json:"listen_errors"`
}

// Stats returns the gate's current state and counters.
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	st := Stats{State: "closed", OpenSessions: len(g.sessions), LastError: g.lastErr}
	if g.ln != nil {
		st.State, st.Address = "open", g.ln.Addr().String()
	}
	g.mu.Unlock()
	st.Listen, st.Target, st.OpensOn = g.cfg.Listen, g.cfg.Target, g.cfg.OpensOn
	st.Reason = g.wish.Load().reason
	st.DrainMS = g.cfg.Drain.Milliseconds()
	st.MaxSessions = g.cfg.MaxSessions
	st.Sessions = g.sessionsTotal.Load()
	st.BytesToTarget, st.BytesToClient = g.bytesToTarget.Load(), g.bytesToClient.Load()
	st.DialFailures, st.Cut, st.OverLimit, st.NotOpen = g.dialFailures.Load(), g.cut.Load(), g.overLimit.Load(), g.notOpen.Load()
	st.Opened, st.Closed, st.ListenErrors = g.opened.Load(), g.closed.Load(), g.listenErrors.Load()
	return st
}
