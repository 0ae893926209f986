package fence

import (
	"net/netip"
	"time"
)

// Stats is the fence's state and counters, as shown in /status.
type Stats struct {
	Ports     []uint16  `json:"ports"`
	Allow     []string  `json:"allow"`
	State     string    `json:"state"`  // open or closed: what the kernel was last made to hold
	Reason    string    `json:"reason"` // the verdict behind it
	Since     time.Time `json:"since"`
	OpenUntil time.Time `json:"open_until,omitzero"` // the lease: the fence closes by itself then unless renewed
	DrainMS   int64     `json:"drain_ms"`
	Rejected  uint64    `json:"rejected_total"`     // new connections refused since the agent started
	Cut       uint64    `json:"sessions_cut_total"` // established sessions destroyed
	Repairs   uint64    `json:"repaired_total"`     // times the kernel held something else and was put right
	LastError string    `json:"last_error,omitempty"`
}

// Stats returns the fence's current state and counters.
func (f *Fence) Stats() Stats {
	f.mu.Lock()
	st := f.stats
	f.mu.Unlock()
	st.Rejected, st.Cut, st.Repairs = f.rejects.Load(), f.cuts.Load(), f.repairs.Load()
	return st
}

// Open reports whether clients may connect: the kernel holds no fence.
func (f *Fence) Open() bool { return f.isOpen.Load() }

func prefixes(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
