package demo

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// The demo's haproxy decides as the recommended example does: the
// example's default-server line, less what names its ports and addresses,
// is the demo's.
func TestDefaultServerMatchesExample(t *testing.T) {
	b, err := os.ReadFile("../../examples/haproxy/agent-check.cfg")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "default-server "); ok {
			line = rest
		}
	}
	var kept []string
	f := strings.Fields(line)
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "init-addr", "port", "agent-port": // addresses and ports: the demo's own
			i++
		default:
			kept = append(kept, f[i])
		}
	}
	if got := strings.Join(kept, " "); got != DefaultServer {
		t.Fatalf("examples/haproxy/agent-check.cfg checks:\n  %s\nthe demo's:\n  %s", got, DefaultServer)
	}
}

func startTestMirror(t *testing.T) *mirror {
	t.Helper()
	var lastErr error
	for range 20 {
		// Below Linux's ephemeral ports (32768+): a member that goes down
		// must find its port free when it comes back.
		base := 20000 + 100*rand.IntN(120)
		m, err := startMirror("127.0.0.1", base, 50*time.Millisecond, 200*time.Millisecond, &eventLog{})
		if err == nil {
			t.Cleanup(m.close)
			return m
		}
		lastErr = err
	}
	t.Fatalf("no free port block: %v", lastErr)
	return nil
}

func states(m *mirror) string {
	var parts []string
	for _, n := range m.nodes {
		parts = append(parts, n.spec.name+"="+string(n.sim.State()))
	}
	return strings.Join(parts, " ")
}

// TestCommands: each key does to the simulated mirror what its help says,
// and names the member clients should reach next.
func TestCommands(t *testing.T) {
	// Registered first, so it runs after the mirror's own cleanup.
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	m := startTestMirror(t)
	steps := []struct {
		cmd, want, states, msg string
	}{
		{"f", "ap1b", "ap1a=backup ap1b=primary ap2a=primary ap2b=backup", ""},
		{"failover ap1", "ap1a", "ap1a=primary ap1b=backup ap2a=primary ap2b=backup", ""},
		{"s", "ap1b", "ap1a=down ap1b=primary ap2a=primary ap2b=backup", ""},
		{"s", "", "ap1a=down ap1b=down ap2a=primary ap2b=backup", ""},
		{"s", "", "ap1a=down ap1b=down ap2a=primary ap2b=backup", "AP1 has no primary to stop"},
		{"f", "ap1a", "ap1a=primary ap1b=down ap2a=primary ap2b=backup", ""},
		{"f", "", "ap1a=primary ap1b=down ap2a=primary ap2b=backup", "AP1: no running backup to fail over to (press r to reset)"},
		{"h", "", "ap1a=hang ap1b=down ap2a=primary ap2b=backup", ""},
		{"g", "ap2b", "ap1a=hang ap1b=down ap2a=backup ap2b=primary", ""},
		{"x", "", "ap1a=down ap1b=down ap2a=backup ap2b=primary", ""},
		{"r", "ap1a", "ap1a=primary ap1b=backup ap2a=primary ap2b=backup", ""},
		{"set ap1b async", "ap1a", "ap1a=primary ap1b=async ap2a=primary ap2b=backup", ""},
		{"set ap9 down", "", "ap1a=primary ap1b=async ap2a=primary ap2b=backup", `no member "ap9" (ap1a, ap1b, ap2a, ap2b)`},
		{"set ap1b sleepy", "", "ap1a=primary ap1b=async ap2a=primary ap2b=backup", `unknown state "sleepy" (want primary, backup, async, hang or down)`},
		{"s", "", "ap1a=down ap1b=async ap2a=primary ap2b=backup", ""}, // an async does not take over
	}
	for _, st := range steps {
		act, msg, err := m.apply(st.cmd)
		if err != nil {
			t.Fatalf("%s: %v", st.cmd, err)
		}
		if msg != st.msg {
			t.Errorf("%s: message %q, want %q", st.cmd, msg, st.msg)
		}
		if st.msg == "" && (act == nil || act.want != st.want) {
			t.Errorf("%s: action %+v, want clients on %q", st.cmd, act, st.want)
		}
		if got := states(m); got != st.states {
			t.Errorf("%s: states %s, want %s", st.cmd, got, st.states)
		}
	}
	if _, _, err := m.apply("q"); err != errQuit {
		t.Errorf("q: %v", err)
	}
	if _, msg, _ := m.apply("bogus"); !strings.HasPrefix(msg, `unknown command "bogus"`) {
		t.Errorf("bogus: %q", msg)
	}
	// The agents follow: ap1a is the routable primary again after r.
	m.apply("r") //nolint:errcheck // checked above
	deadline := time.Now().Add(5 * time.Second)
	for !m.byName("ap1a").ag.Snapshot().Routable || m.byName("ap1b").ag.Snapshot().Routable {
		if time.Now().After(deadline) {
			t.Fatalf("agents did not follow: ap1a %+v", m.byName("ap1a").ag.Snapshot())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m.byName("ap1a").sim.State() != simulator.Primary {
		t.Fatal("reset")
	}
}

func TestCheckOptions(t *testing.T) {
	ok := Options{IP: "127.0.0.1", Ports: 19700, Interval: time.Second, Timeout: time.Second, Refresh: time.Second}
	if err := checkOptions(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(o *Options){
		func(o *Options) { o.IP = "10.1.2.3" },
		func(o *Options) { o.IP = "nope" },
		func(o *Options) { o.Ports = 80 },
		func(o *Options) { o.Ports = 65500 },
		func(o *Options) { o.Interval = 0 },
	} {
		o := ok
		bad(&o)
		if err := checkOptions(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
