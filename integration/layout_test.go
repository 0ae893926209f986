// Package integration drives the real binaries (agent, simulator) and the
// real haproxy and nginx against each other on loopback.
package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/internal/itest"
)

func TestMain(m *testing.M) { itest.Main(m) }

// layout is the reference deployment: mirror set AP1 (ap1a, ap1b) and AP2
// (ap2a, ap2b), each member on its own loopback address with IRIS's
// default ports, an agent beside each, and a hosts file naming them.
type layout struct {
	net     *itest.Loopback
	members map[string]*itest.Member
	agents  map[string]*itest.Agent
	hosts   string
	// front is the address balancers bind their frontends to.
	front string
}

var referenceMembers = []struct {
	name  string
	ip    int
	state string
}{
	{"ap1a", 1, "primary"}, {"ap1b", 2, "backup"},
	{"ap2a", 3, "primary"}, {"ap2b", 4, "backup"},
}

// startLayout starts the four members and their agents with agentFlags.
func startLayout(t *testing.T, agentFlags ...string) *layout {
	t.Helper()
	return startLayoutWith(t, func(*itest.Member) []string { return agentFlags })
}

// startLayoutWith starts the four members and their agents, each agent
// with the flags flagsFor gives its member.
func startLayoutWith(t *testing.T, flagsFor func(m *itest.Member) []string) *layout {
	t.Helper()
	l := &layout{net: itest.NewLoopback(t), members: map[string]*itest.Member{}, agents: map[string]*itest.Agent{}}
	names := map[string]string{}
	for _, m := range referenceMembers {
		mem := itest.StartMember(t, m.name, l.net.IP(m.ip), m.state)
		l.members[m.name] = mem
		names[m.name] = mem.IP
	}
	for _, m := range referenceMembers {
		l.agents[m.name] = itest.StartAgent(t, l.members[m.name], flagsFor(l.members[m.name])...)
	}
	l.hosts = itest.HostsFile(t, names)
	l.front = l.net.IP(100)
	return l
}

// set changes several members at once, in the order given (demote first).
func (l *layout) set(t *testing.T, pairs ...string) time.Time {
	t.Helper()
	t0 := time.Now()
	for i := 0; i+1 < len(pairs); i += 2 {
		l.members[pairs[i]].Set(t, pairs[i+1])
	}
	return t0
}

// waitRouted waits until the TCP frontend answers with want.
func waitRouted(t *testing.T, addr, want string, d time.Duration) {
	t.Helper()
	waitAnswer(t, addr, itest.TCPAsk(addr, 500*time.Millisecond), want, d)
}

// ask is one request through a balancer: the member that answered.
type ask = func(ctx context.Context) (string, error)

// waitAnswer waits until a request to what (through ask) is answered by
// the member want.
func waitAnswer(t *testing.T, what string, ask ask, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		name, err := ask(context.Background())
		if err == nil && name == want {
			return
		}
		last = fmt.Sprintf("%q %v", name, err)
		if time.Now().After(deadline) {
			t.Fatalf("%s not routed to %s within %v; last %s", what, want, d, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
