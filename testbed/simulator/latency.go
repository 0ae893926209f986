package simulator

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/latency"
)

// SetLatency makes every mirror_status request wait a time drawn from p,
// from a generator seeded with seed, before it is answered.
func (m *Member) SetLatency(p latency.Profile, seed uint64) {
	m.latMu.Lock()
	defer m.latMu.Unlock()
	m.latency, m.rng = p, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// delay waits one drawn latency, or less if the client leaves; it reports
// whether the client is still there.
func (m *Member) delay(ctx context.Context) bool {
	m.latMu.Lock()
	var d time.Duration
	if m.rng != nil {
		d = m.latency.Sample(m.rng)
	}
	m.latMu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
