// Package integration drives the real binaries (agent, simulator) and the
// real haproxy and nginx against each other on loopback.
package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
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

// startLayoutFlags starts the four members and their agents with flags per
// member (gates listen on the member's own address).
func startLayoutFlags(t *testing.T, agentFlags func(m *itest.Member) []string) *layout {
	t.Helper()
	l := &layout{net: itest.NewLoopback(t), members: map[string]*itest.Member{}, agents: map[string]*itest.Agent{}}
	names := map[string]string{}
	for _, m := range referenceMembers {
		mem := itest.StartMember(t, m.name, l.net.IP(m.ip), m.state)
		l.members[m.name] = mem
		names[m.name] = mem.IP
	}
	for _, m := range referenceMembers {
		l.agents[m.name] = itest.StartAgent(t, l.members[m.name], agentFlags(l.members[m.name])...)
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

// waitRouted waits until the frontend answers with want.
func waitRouted(t *testing.T, addr, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		line, err := itest.ReadLine(addr, "who\n", 500*time.Millisecond)
		if err == nil && len(line) >= len(want) && line[:len(want)] == want {
			return
		}
		last = fmt.Sprintf("%q %v", line, err)
		if time.Now().After(deadline) {
			t.Fatalf("%s not routed to %s within %v; last %s", addr, want, d, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// haproxyEnv points a haproxy example at the layout through its
// variables: the frontends on front, each member by address (AP1A_HOST...).
func (l *layout) haproxyEnv() []string {
	env := []string{"HAPROXY_BIND_ADDR=" + l.front}
	for name, m := range l.members {
		env = append(env, strings.ToUpper(name)+"_HOST="+m.IP)
	}
	return env
}

// agentLogs are the log files of the layout's agents.
func (l *layout) agentLogs() []string {
	var logs []string
	for _, a := range l.agents {
		logs = append(logs, a.Proc.Log)
	}
	return logs
}
