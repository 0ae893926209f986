package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// netAgent are the agent's settings in the network-fault test.
var netAgent = []string{"--interval", "200ms", "--timeout", "500ms", "--fall", "3", "--rise", "2"}

// netLease is how long an answer of the agent at netAgent holds.
const netLease = 200*time.Millisecond + 500*time.Millisecond

// TestNetworkFaults runs a simulated member and the agent binary in two
// network namespaces joined by a veth pair, then cuts the link (every
// packet dropped, not refused) and adds latency near and past the probe
// timeout. The agent must stop saying primary within timeout x fall and
// say it again after rise good answers.
func TestNetworkFaults(t *testing.T) {
	p := itest.RequireNetns(t)
	agentBin, sim := itest.Binaries(t)
	inA := itest.EnterNetns(t, p.Agent)
	inM := itest.EnterNetns(t, p.Member)

	// Latency: tc netem where the kernel has it; otherwise a relay in the
	// member's namespace that holds every chunk of data (this kernel has
	// no sch_netem).
	netem := p.Netem(t, time.Millisecond)
	p.Netem(t, 0)
	simIP := p.MemberIP
	relay := &itest.DelayRelay{}
	if !netem {
		simIP = "127.0.0.1"
		for _, port := range []string{"52773", "1972"} {
			ln, err := inM.Listen("tcp", p.MemberIP+":"+port)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go relay.Serve(ln, simIP+":"+port, inM.DialContext)
		}
	}
	itest.Start(t, "irissim-ns", nil, p.Exec(p.Member, sim, "serve", "--name", "ap1a", "--ip", simIP, "--state", "primary")...)
	waitDial(t, inM, simIP+":52780")
	argv := append([]string{agentBin, "serve", "--member", "ap1a",
		"--mirror-status-url", "http://" + p.MemberIP + ":52773/csp/mirror_status.cxw", "--superserver", p.MemberIP + ":1972",
		"--http-listen", "127.0.0.1:9797", "--agent-listen", "127.0.0.1:9798", "--log-format", "json", "--shutdown-delay", "0s"}, netAgent...)
	itest.Start(t, "agent-ns", nil, p.Exec(p.Agent, argv...)...)
	waitDial(t, inA, "127.0.0.1:9797")
	st := &nsStatus{client: &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: inA.DialContext, DisableKeepAlives: true, Proxy: nil}}}
	st.waitPrimary(t, true, 10*time.Second)

	var rows []faultRow
	measure := func(name string, window time.Duration, inject, restore func(), wantDown bool) {
		checks := &itest.BalancerChecks{HTTPAddr: "127.0.0.1:9797", AgentAddr: "127.0.0.1:9798", Dial: inA.DialContext}
		checks.Start(time.Minute)
		time.Sleep(200 * time.Millisecond)
		t0 := time.Now()
		inject()
		tInjected := time.Now()
		row := faultRow{fault: name, down: -1}
		for time.Since(t0) < window {
			role, reason, err := st.get()
			if err == nil {
				row.role, row.reason = role, reason
				if role == "down" && row.down < 0 {
					row.down = time.Since(t0)
				}
			}
			if wantDown && row.down >= 0 && time.Since(t0) > row.down+200*time.Millisecond {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		t1 := time.Now()
		restore()
		st.waitPrimary(t, true, 10*time.Second)
		checks.WaitPassed(t1, 3*time.Second)
		checks.Stop()
		hl, al := row.measure(checks.HTTP(), checks.Agent(), t0, t1)
		_, nr := itest.FirstAfter(checks.HTTP(), t0, false)
		row.lastRoutable, row.lastRoutableSeen = itest.LastPassedAfter(append(checks.HTTP(), checks.Agent()...), tInjected, t1)
		if hl.Errors+al.Errors > 0 {
			t.Errorf("%s: %d checks got no answer", name, hl.Errors+al.Errors)
		}
		if wantDown {
			// Not routable from the first failed round: no answer
			// outlives its lease, interval + timeout.
			if !nr {
				t.Errorf("%s: no check failed during the fault", name)
			}
			if bad := row.stillRoutable(netLease); bad != "" {
				t.Errorf("%s: %s", name, bad)
			}
			// Down within timeout x fall (rounds run back to back while
			// each takes the whole timeout), plus one interval.
			if !row.roleWasDown || row.down > 3*500*time.Millisecond+200*time.Millisecond+500*time.Millisecond {
				t.Errorf("%s: role %s, down after %v: want down within timeout x fall", name, row.role, row.down)
			}
		} else if row.roleWasDown || row.routableShare < 1 {
			t.Errorf("%s: latency under the timeout made it down=%v, routable %.0f%% of checks", name, row.roleWasDown, 100*row.routableShare)
		}
		// Back after rise (2) good rounds.
		if row.recovered > 2*time.Second {
			t.Errorf("%s: routable again only %v after the fault ended", name, row.recovered)
		}
		rows = append(rows, row)
	}

	measure("link cut: every packet dropped (nft, member namespace)", 5*time.Second, func() { p.Cut(t) }, func() { p.Restore(t) }, true)
	how := "tc netem on both ends, each way"
	under, over := 85*time.Millisecond, 300*time.Millisecond // RTT 170 ms (340 ms with a new connection), 600 ms
	setDelay := func(d time.Duration) { p.Netem(t, d) }
	if !netem {
		how = "relay in the member namespace, each way (no sch_netem in this kernel)"
		under, over = 175*time.Millisecond, 300*time.Millisecond // request+response 350 ms, 600 ms
		setDelay = relay.SetDelay
	}
	measure(fmt.Sprintf("latency %v (%s): 70%% of the 500 ms timeout", under, how), 2*time.Second,
		func() { setDelay(under) }, func() { setDelay(0) }, false)
	measure(fmt.Sprintf("latency %v (%s): past the 500 ms timeout", over, how), 5*time.Second,
		func() { setDelay(over) }, func() { setDelay(0) }, true)

	var b strings.Builder
	b.WriteString("| network fault | role (reason) | not routable after | role down after | routable again after | checks passing during the fault | check p99 HTTP / agent-check |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		down, nr := "never", ms(r.notRoutable)
		if r.roleWasDown {
			down = ms(r.down)
		}
		if r.routableShare == 1 {
			nr = "never"
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %.0f%% | %s / %s |\n", r.fault, r.role, r.reason, nr, down, ms(r.recovered), 100*r.routableShare, ms(r.httpP99), ms(r.agentP99))
	}
	itest.Report(t, "faults.md", "Network faults", fmt.Sprintf("The member (simulator) and the agent (`%s`) in two network namespaces "+
		"the test creates, joined by a veth pair (testbed/itest/netns.go); balancers check the agent every 5 ms.", strings.Join(netAgent, " ")), b.String())
}

// waitDial waits until addr accepts inside a namespace.
func waitDial(t *testing.T, ns *itest.Netns, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := ns.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nsStatus reads the agent's /status inside its namespace.
type nsStatus struct{ client *http.Client }

func (s *nsStatus) get() (role, reason string, err error) {
	resp, err := s.client.Get("http://127.0.0.1:9797/status")
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st struct{ Role, Reason string }
	err = json.Unmarshal(b, &st)
	return st.Role, st.Reason, err
}

func (s *nsStatus) waitPrimary(t *testing.T, want bool, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		resp, err := s.client.Get("http://127.0.0.1:9797/primary")
		if err == nil {
			resp.Body.Close()
			if (resp.StatusCode == 200) == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/primary not %v within %v", want, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
