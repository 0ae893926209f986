package itest

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// The agent's gates, in the ports the examples use: the web gate on 52774
// in front of the member's web server (52773), the SuperServer gate on
// 1973 in front of its SuperServer (1972).

// WebGateAddr is the member's web gate.
func (m *Member) WebGateAddr() string { return m.IP + ":52774" }

// SuperServerGateAddr is the member's SuperServer gate.
func (m *Member) SuperServerGateAddr() string { return m.IP + ":1973" }

// GateFlags are the agent flags for both gates, bound on the member's own
// address as a deployment binds them on the member's host.
func GateFlags(m *Member) []string {
	return []string{
		"--gate", m.WebGateAddr() + "=" + m.WebAddr(),
		"--gate", m.SuperServerGateAddr() + "=" + m.SuperServerAddr(),
	}
}

// WaitRefused waits until a connect to addr is refused (a closed gate).
func WaitRefused(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if c != nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still not refusing after %v (%v)", addr, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
