package integration

import (
	"testing"
	"time"
)

// TestHAProxyAgentCheckFast runs the fast profile's configuration unchanged
// (its figures, with the agent at its defaults, are in BENCHMARKS.md).
func TestHAProxyAgentCheckFast(t *testing.T) {
	runHAProxyFailover(t, "haproxy/agent-check-fast.cfg", failoverBounds{firstNew: time.Second, lastOld: 750 * time.Millisecond, hang: 1500 * time.Millisecond}, true)
}
