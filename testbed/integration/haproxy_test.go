package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// failoverBounds are the targets a haproxy example must meet.
type failoverBounds struct {
	firstNew time.Duration // planned switch: new primary answers within
	lastOld  time.Duration // planned switch: nothing reaches the old primary after
	hang     time.Duration // hung primary: routed around within
}

// The agent runs at --interval 250ms --timeout 500ms in these tests.
var fastAgent = []string{"--interval", "250ms", "--timeout", "500ms"}

// exampleAgent is the agent flags an example's "# agent:" line names for
// member m (gates, ports), with fastAgent's timings last.
func exampleAgent(t *testing.T, example string) func(m *itest.Member) []string {
	return func(m *itest.Member) []string {
		return append(itest.ExampleAgentFlags(t, example, m), fastAgent...)
	}
}

// startExampleLayout is the reference layout with each agent running the
// flags example names.
func startExampleLayout(t *testing.T, example string) *layout {
	t.Helper()
	return startLayoutFlags(t, exampleAgent(t, example))
}

func TestHAProxyAgentCheck(t *testing.T) {
	runHAProxyFailover(t, "haproxy/agent-check.cfg", failoverBounds{firstNew: time.Second, lastOld: 750 * time.Millisecond, hang: 1500 * time.Millisecond}, true)
}

func TestHAProxyHTTPCheck(t *testing.T) {
	runHAProxyFailover(t, "haproxy/httpchk.cfg", failoverBounds{firstNew: time.Second, lastOld: 750 * time.Millisecond, hang: 1500 * time.Millisecond}, false)
}

func TestHAProxyExternalCheck(t *testing.T) {
	runHAProxyFailover(t, "haproxy/external-check.cfg", failoverBounds{firstNew: 1500 * time.Millisecond, lastOld: 1500 * time.Millisecond, hang: 1500 * time.Millisecond}, false)
}

// runHAProxyFailover runs an example haproxy.cfg unchanged in front of the
// reference layout and drives the planned switch, primary down and primary
// hang scenarios through it, measuring from client connections.
func runHAProxyFailover(t *testing.T, example string, b failoverBounds, agentReason bool) {
	l := startExampleLayout(t, example)
	agentBin, _ := itest.Binaries(t)
	h := itest.StartHAProxy(t, itest.Example(t, example), l.hosts, []string{
		"HAPROXY_BIND_ADDR=" + l.front,
		"IRIS_MIRROR_AGENT=" + agentBin,
		"IRIS_MIRROR_CHECK=" + itest.CheckBinary(t),
	})
	ap1 := l.front + ":1972"
	ap2 := l.front + ":11972"

	// haproxy 2.6 starts every server UP until its first check: wait for
	// the first checks to settle before measuring.
	h.WaitServer(t, "ap1", "ap1a", "UP", 10*time.Second)
	h.WaitServer(t, "ap2", "ap2a", "UP", 10*time.Second)
	h.WaitServer(t, "ap1", "ap1b", "DOWN", 10*time.Second)
	h.WaitServer(t, "ap2", "ap2b", "DOWN", 10*time.Second)
	if agentReason {
		// The server can be DOWN a moment before the stats show the agent's
		// text (the first regular check may be the one that failed).
		var st map[string]string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			st, _ = h.ServerStat("ap1", "ap1b")
			if strings.Contains(st["last_agt"], "role standby: mirror_status 503") || time.Now().After(deadline) {
				break
			}
		}
		if !strings.Contains(st["last_agt"], "role standby: mirror_status 503") {
			t.Errorf("haproxy stats should show the agent's reason for ap1b, got last_agt=%q", st["last_agt"])
		}
	}
	waitRouted(t, ap1, "ap1a", 5*time.Second)
	waitRouted(t, ap2, "ap2a", 5*time.Second)

	restore := func() {
		t.Helper()
		l.set(t, "ap1b", "backup", "ap1a", "primary")
		h.WaitServer(t, "ap1", "ap1a", "UP", 10*time.Second)
		h.WaitServer(t, "ap1", "ap1b", "DOWN", 10*time.Second)
		waitRouted(t, ap1, "ap1a", 5*time.Second)
	}

	t.Run("planned switch", func(t *testing.T) {
		sw, ap2ok := measureSwitch(t, l, ap1, ap2, "ap1a", "backup")
		t.Logf("%s planned switch: %s", example, sw)
		if !sw.NewOK || sw.FirstNew > b.firstNew {
			t.Errorf("new primary first answered after %v, want < %v (%s)", sw.FirstNew, b.firstNew, sw)
		}
		if sw.LastOld > b.lastOld {
			t.Errorf("old primary still answered %v after the switch, want < %v", sw.LastOld, b.lastOld)
		}
		if !ap2ok {
			t.Error("AP2 was disturbed by a switch in AP1")
		}
	})
	restore()

	t.Run("primary down", func(t *testing.T) {
		sw, ap2ok := measureSwitch(t, l, ap1, ap2, "ap1a", "down")
		t.Logf("%s primary down: %s", example, sw)
		if !sw.NewOK || sw.FirstNew > b.firstNew {
			t.Errorf("new primary first answered after %v, want < %v (%s)", sw.FirstNew, b.firstNew, sw)
		}
		// A request that started while the stop was being applied may
		// still be answered; none may be after that.
		if sw.LastOld > 50*time.Millisecond {
			t.Errorf("a stopped member answered %v after stopping", sw.LastOld)
		}
		if !ap2ok {
			t.Error("AP2 was disturbed")
		}
	})
	restore()

	t.Run("primary hang", func(t *testing.T) {
		// The member hangs: its ports accept and never answer. The backup
		// stays a backup, so once the hung member is marked down haproxy
		// has nowhere to send AP1 traffic and must refuse it at once.
		s := &itest.Sampler{Every: 10 * time.Millisecond, Ask: itest.TCPAsk(ap1, 400*time.Millisecond)}
		s.Start(10 * time.Second)
		time.Sleep(200 * time.Millisecond)
		t0 := l.set(t, "ap1a", "hang")
		st := h.WaitServer(t, "ap1", "ap1a", "DOWN", 5*time.Second)
		markedDown := time.Since(t0)
		time.Sleep(700 * time.Millisecond)
		samples := s.Stop()
		// A request that reached the hung member waits until cut; one that
		// found no server fails at once.
		var lastHung time.Duration = -1
		fastFail := 0
		for _, smp := range samples {
			if smp.At.Before(t0) || smp.Err == nil {
				continue
			}
			if smp.Took >= 150*time.Millisecond {
				lastHung = smp.At.Sub(t0)
			} else {
				fastFail++
			}
		}
		t.Logf("%s primary hang: marked DOWN after %v, last request sent to the hung member at %v, %d fast failures after", example,
			markedDown.Round(time.Millisecond), lastHung.Round(time.Millisecond), fastFail)
		if markedDown > b.hang {
			t.Errorf("hung primary marked down after %v, want < %v", markedDown, b.hang)
		}
		if lastHung > b.hang {
			t.Errorf("requests still sent to the hung primary %v after the hang, want < %v", lastHung, b.hang)
		}
		if fastFail == 0 {
			t.Error("with no primary left, haproxy should refuse AP1 requests at once")
		}
		if agentReason && !strings.Contains(st["last_agt"], "mirror_status") {
			t.Errorf("stats should carry the agent's reason, got last_agt=%q", st["last_agt"])
		}
	})
	l.set(t, "ap1a", "primary")
	h.WaitServer(t, "ap1", "ap1a", "UP", 10*time.Second)
}

// measureSwitch samples AP1 while ap1a goes to oldState and ap1b becomes
// primary, and checks AP2 kept answering from ap2a throughout.
func measureSwitch(t *testing.T, l *layout, ap1, ap2, old, oldState string) (itest.Switch, bool) {
	t.Helper()
	return measureSwitchAsk(t, l, itest.TCPAsk(ap1, 400*time.Millisecond), itest.TCPAsk(ap2, 400*time.Millisecond), old, oldState)
}

// measureSwitchAsk is measureSwitch with any kind of request.
func measureSwitchAsk(t *testing.T, l *layout, ap1, ap2 askFunc, old, oldState string) (itest.Switch, bool) {
	t.Helper()
	s := &itest.Sampler{Every: 10 * time.Millisecond, Ask: ap1}
	s2 := &itest.Sampler{Every: 50 * time.Millisecond, Ask: ap2}
	s.Start(10 * time.Second)
	s2.Start(10 * time.Second)
	time.Sleep(300 * time.Millisecond)
	t0 := l.set(t, old, oldState, "ap1b", "primary")
	time.Sleep(2 * time.Second)
	samples := s.Stop()
	ap2ok := true
	for _, smp := range s2.Stop() {
		if smp.Err != nil || smp.Member != "ap2a" {
			t.Logf("AP2 sample at %v: %q %v (took %v)", smp.At.Sub(t0).Round(time.Millisecond), smp.Member, smp.Err, smp.Took)
			ap2ok = false
		}
	}
	return itest.Analyse(samples, t0, old, "ap1b"), ap2ok
}

// TestHAProxyExternalCheckCommands: the example with each binary as the
// command (iris-mirror-check, the recommended one, and iris-mirror-agent,
// which still does the job) follows a switch; a check that passes prints
// nothing into haproxy's output, one that fails prints one line.
func TestHAProxyExternalCheckCommands(t *testing.T) {
	agentBin, _ := itest.Binaries(t)
	for _, bin := range []string{itest.CheckBinary(t), agentBin} {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			l := startExampleLayout(t, "haproxy/external-check.cfg")
			h := itest.StartHAProxy(t, itest.Example(t, "haproxy/external-check.cfg"), l.hosts, []string{
				"HAPROXY_BIND_ADDR=" + l.front, "IRIS_MIRROR_CHECK=" + bin,
			})
			ap1 := l.front + ":1972"
			h.WaitServer(t, "ap1", "ap1a", "UP", 10*time.Second)
			h.WaitServer(t, "ap1", "ap1b", "DOWN", 10*time.Second)
			waitRouted(t, ap1, "ap1a", 5*time.Second)
			l.set(t, "ap1a", "backup", "ap1b", "primary")
			h.WaitServer(t, "ap1", "ap1a", "DOWN", 10*time.Second)
			h.WaitServer(t, "ap1", "ap1b", "UP", 10*time.Second)
			waitRouted(t, ap1, "ap1b", 5*time.Second)

			// haproxy -db passes a check's output through: the backups'
			// failures show, the primaries' passes do not.
			out, _ := os.ReadFile(h.Proc.Log)
			var oks, fails int
			for line := range strings.Lines(string(out)) {
				switch {
				case strings.HasPrefix(line, "OK "):
					oks++
				case strings.HasPrefix(line, "FAIL "):
					fails++
				}
			}
			t.Logf("haproxy output: %d OK lines, %d FAIL lines", oks, fails)
			if oks != 0 {
				t.Errorf("%d OK lines in haproxy's output: a passing check must print nothing", oks)
			}
			if fails == 0 {
				t.Errorf("no FAIL line in haproxy's output: either the backups' failing checks print nothing, or haproxy no longer passes the output through (then this test proves nothing)\n%s", itest.Tail(h.Proc.Log, 20))
			}
		})
	}
}
