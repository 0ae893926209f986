package itest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/gate"
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

// GateStatus reads the gates' part of an agent's /status.
func GateStatus(httpAddr string) ([]gate.Stats, error) {
	code, body, err := HTTPGet("http://"+httpAddr+"/status", 2*time.Second)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("/status %d", code)
	}
	var st struct{ Gates []gate.Stats }
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return nil, fmt.Errorf("/status: %w", err)
	}
	return st.Gates, nil
}

// GateOf returns the gate listening on listen from an agent's /status.
func GateOf(t testing.TB, httpAddr, listen string) gate.Stats {
	t.Helper()
	gs, err := GateStatus(httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Listen == listen {
			return g
		}
	}
	t.Fatalf("no gate on %s in /status: %+v", listen, gs)
	return gate.Stats{}
}

// WaitGate polls the gate on listen until cond holds, and returns its
// last stats and how long that took.
func WaitGate(t testing.TB, httpAddr, listen string, d time.Duration, what string, cond func(gate.Stats) bool) (gate.Stats, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		st := GateOf(t, httpAddr, listen)
		if cond(st) {
			return st, time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("gate %s: not %s after %v: %+v", listen, what, d, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NoFileLimit wraps an argv so it runs with RLIMIT_NOFILE n (soft and
// hard; raising the hard limit needs root), with util-linux prlimit.
func NoFileLimit(t testing.TB, n int) func(argv []string) []string {
	t.Helper()
	prlimit := RequireTool(t, "prlimit")
	return func(argv []string) []string {
		return append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", n, n), "--"}, argv...)
	}
}
