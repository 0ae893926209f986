//go:build bench

package benchsuite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// balancer is one row of the failover figures: a balancer configuration in
// front of the AP1 mirror set. Adding a balancer is one more entry in
// balancers, plus a start function for a new kind (startHAProxy,
// startNginx).
type balancer struct {
	// name is the row's label; no commas (it names the subtest, whose
	// temporary directory holds haproxy's stats socket, and haproxy reads a
	// comma in an address as a separator).
	name     string
	config   string // relative to the module root, used unchanged
	agents   bool   // run an agent beside each member
	flags    func(m *itest.Member) []string
	member   []string // extra irissim serve flags, such as a latency profile
	baseline string   // "script" or "direct" for the two baselines; "" otherwise
	targets  bool     // the row whose figures the notes hold to issue 12's targets
	// poke: the promoted member's agent is poked at t0 (iris-mirror-agent
	// poke on its admin socket), as IRIS's ^ZMIRROR NotifyBecomePrimary
	// does once a member has taken over.
	poke    bool
	observe time.Duration
	// start runs the balancer in front of l and returns how to ask it which
	// member serves AP1 (a request answered by the member's name).
	start func(t *testing.T, e *env, l *failLayout, config string) func(context.Context) (string, error)
}

// jitter is the latency profile the agent's defaults were chosen against
// (docs/reports/tradeoff.md).
var jitter = []string{"--latency-profile", "jitter"}

var balancers = []balancer{
	{name: "haproxy agent-check.cfg (agent defaults + gates)", config: "examples/haproxy/agent-check.cfg", agents: true, flags: itest.GateFlags, targets: true, observe: 3 * time.Second, start: startHAProxy},
	{name: "haproxy agent-check.cfg (agent defaults + gates) with mirror_status at --latency-profile jitter", config: "examples/haproxy/agent-check.cfg", agents: true, flags: itest.GateFlags, member: jitter, targets: true, observe: 3 * time.Second, start: startHAProxy},
	{name: "haproxy httpchk.cfg (agent defaults)", config: "examples/haproxy/httpchk.cfg", agents: true, observe: 3 * time.Second, start: startHAProxy},
	{name: "haproxy external-check.cfg (agent defaults)", config: "examples/haproxy/external-check.cfg", agents: true, observe: 3 * time.Second, start: startHAProxy},
	{name: "haproxy agent-check-fast.cfg (agent defaults)", config: "examples/haproxy/agent-check-fast.cfg", agents: true, observe: 3 * time.Second, start: startHAProxy},
	{name: "haproxy agent-check.cfg (agent defaults + gates) + poke from ^ZMIRROR", config: "examples/haproxy/agent-check.cfg", agents: true, flags: itest.GateFlags, poke: true, observe: 3 * time.Second, start: startHAProxy},
	{name: "haproxy agent-check-fast.cfg (agent defaults) + poke from ^ZMIRROR", config: "examples/haproxy/agent-check-fast.cfg", agents: true, poke: true, observe: 3 * time.Second, start: startHAProxy},
	{name: "nginx http-gate.conf (agent defaults + gates)", config: "examples/nginx/http-gate.conf", agents: true, flags: itest.GateFlags, observe: 3 * time.Second, start: startNginx},
	{name: "baseline: haproxy + reference check.sh (inter 2s rise 2 fall 3)", config: "testbed/benchsuite/testdata/haproxy/script-external-check.cfg", baseline: "script", observe: 15 * time.Second, start: startHAProxy},
	{name: "baseline: haproxy httpchk at mirror_status.cxw (inter 200ms)", config: "testbed/benchsuite/testdata/haproxy/httpchk-direct.cfg", baseline: "direct", observe: 3 * time.Second, start: startHAProxy},
}

// chosen reports whether -balancers selects row b (every row when empty):
// one of its comma-separated words is part of the row's name.
func chosen(b balancer) bool {
	if *flagBalancers == "" {
		return true
	}
	for _, w := range strings.Split(*flagBalancers, ",") {
		if w = strings.TrimSpace(w); w != "" && strings.Contains(b.name, w) {
			return true
		}
	}
	return false
}

// startHAProxy runs haproxy with config in the layout's mount namespace, so
// the configuration names members as a deployment does.
func startHAProxy(t *testing.T, e *env, l *failLayout, config string) func(context.Context) (string, error) {
	itest.StartHAProxy(t, config, l.hosts, []string{
		"HAPROXY_BIND_ADDR=" + l.front,
		"IRIS_MIRROR_AGENT=" + e.agent,
		"IRIS_MIRROR_CHECK=" + itest.CheckBinary(t),
		"IRIS_CHECK_SCRIPT=" + e.script,
	})
	return itest.TCPAsk(l.front+":1972", 400*time.Millisecond)
}

// startNginx runs an nginx example unchanged (it listens on port 80 of every
// address; itest serialises nginx runs machine-wide) and asks AP1 for the
// simulated application through its /ap1/ path, as the seed's REST
// application is reached.
func startNginx(t *testing.T, _ *env, l *failLayout, config string) func(context.Context) (string, error) {
	itest.StartNginx(t, config, l.hosts)
	return itest.HTTPAsk("http://"+l.front+"/ap1/csp/mirrorns/api/get", 400*time.Millisecond)
}

// failLayout is mirror set AP1: ap1a (primary) and ap1b (backup), each on
// its own loopback address with IRIS's default ports. ap2a and ap2b, named
// by the configurations, resolve to addresses where nothing listens: AP2
// is not measured.
type failLayout struct {
	members map[string]*itest.Member
	hosts   string
	front   string
	sockets map[string]string // member -> its agent's admin socket, when poked
	agent   string            // the agent binary, which also pokes
}

func startFailLayout(t *testing.T, e *env, b balancer) *failLayout {
	lb := itest.NewLoopback(t)
	l := &failLayout{members: map[string]*itest.Member{}, front: lb.IP(100)}
	l.members["ap1a"] = itest.StartMember(t, "ap1a", lb.IP(1), "primary", b.member...)
	l.members["ap1b"] = itest.StartMember(t, "ap1b", lb.IP(2), "backup", b.member...)
	if b.agents {
		if b.poke {
			// A unix socket path must stay short: not under t.TempDir(),
			// whose name holds the (long) subtest name.
			dir, err := os.MkdirTemp("", "irisbench-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			l.sockets, l.agent = map[string]string{}, e.agent
			for name := range l.members {
				l.sockets[name] = filepath.Join(dir, name+".sock")
			}
		}
		for name, m := range l.members {
			var flags []string
			if b.flags != nil {
				flags = b.flags(m)
			}
			if sock := l.sockets[name]; sock != "" {
				flags = append(flags, "--admin-socket", sock)
			}
			itest.StartAgent(t, m, flags...)
		}
	}
	l.hosts = itest.HostsFile(t, map[string]string{"ap1a": lb.IP(1), "ap1b": lb.IP(2), "ap2a": lb.IP(3), "ap2b": lb.IP(4)})
	return l
}

// set changes members in the order given (demote first) and returns when
// the first change was asked for.
func (l *failLayout) set(t *testing.T, pairs ...string) time.Time {
	t0 := time.Now()
	for i := 0; i+1 < len(pairs); i += 2 {
		l.members[pairs[i]].Set(t, pairs[i+1])
	}
	return t0
}

// pokePromoted runs `iris-mirror-agent poke` for each member the pairs
// make primary, a new process each time, as ^ZMIRROR runs it. Nothing
// happens when the agents have no admin socket.
func (l *failLayout) pokePromoted(t *testing.T, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		sock := l.sockets[pairs[i]]
		if sock == "" || pairs[i+1] != "primary" {
			continue
		}
		if out, err := itest.Run([]string{l.agent, "poke", "--admin-socket", sock}, nil, 5*time.Second); err != nil || !strings.HasPrefix(out, "ok") {
			t.Fatalf("poke %s: %v %q", pairs[i], err, out)
		}
	}
}

// settle waits until 20 requests in a row reach want: with two servers in
// round robin, that means the other one is out of rotation.
func settle(t *testing.T, ask func(context.Context) (string, error), want string, d time.Duration) {
	deadline := time.Now().Add(d)
	inRow := 0
	for inRow < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("traffic did not settle on %s within %v", want, d)
		}
		name, err := ask(context.Background())
		if err == nil && name == want {
			inRow++
		} else {
			inRow = 0
		}
		time.Sleep(25 * time.Millisecond)
	}
}

type scenario struct {
	name  string
	pairs []string // member, state, ... applied at t0
	hang  bool     // the old primary hangs: requests sent to it fail slowly
}

// The backup is promoted in every scenario, as IRIS does after a planned
// switch, a stopped primary, or (after its own timeouts) a hung one.
var scenarios = []scenario{
	{"planned switch", []string{"ap1a", "backup", "ap1b", "primary"}, false},
	{"primary down", []string{"ap1a", "down", "ap1b", "primary"}, false},
	{"primary hang", []string{"ap1a", "hang", "ap1b", "primary"}, true},
}

// measure samples AP1 every 10 ms around one scenario (see figuresOf).
func measure(t *testing.T, l *failLayout, ask func(context.Context) (string, error), sc scenario, observe time.Duration) switchFigures {
	s := &itest.Sampler{Every: 10 * time.Millisecond, Ask: ask}
	s.Start(observe + 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	t0 := l.set(t, sc.pairs...)
	l.pokePromoted(t, sc.pairs...)
	time.Sleep(observe)
	return figuresOf(s.Stop(), t0, sc.hang)
}

// failCell is one balancer's runs of one scenario, in seconds after t0.
type failCell struct{ firstNew, lastOld, failed []float64 }

// sectionFailover drives every scenario through every balancer (those
// -balancers selects).
func sectionFailover(t *testing.T, e *env) *Table {
	results := map[string]map[string]*failCell{} // balancer -> scenario -> runs
	for _, b := range balancers {
		if strings.Contains(b.name, ",") {
			t.Fatalf("balancer %q: no commas in a name (see balancer.name)", b.name)
		}
		if !chosen(b) {
			continue
		}
		results[b.name] = map[string]*failCell{}
		ok := t.Run(b.name, func(t *testing.T) {
			l := startFailLayout(t, e, b)
			ask := b.start(t, e, l, filepath.Join(e.root, b.config))
			settle(t, ask, "ap1a", 30*time.Second)
			for _, sc := range scenarios {
				c := &failCell{}
				results[b.name][sc.name] = c
				for run := range e.s.failRuns {
					f := measure(t, l, ask, sc, b.observe)
					t.Logf("%s, %s, run %d: first on new %s, last on old %s, %v failed", b.name, sc.name, run+1, FmtDur(f.firstNew), FmtDur(f.lastOld), f.failed)
					c.firstNew, c.lastOld, c.failed = append(c.firstNew, f.firstNew), append(c.lastOld, f.lastOld), append(c.failed, f.failed)
					l.set(t, "ap1b", "backup", "ap1a", "primary")
					settle(t, ask, "ap1a", 30*time.Second)
				}
			}
		})
		if !ok {
			t.Errorf("%s: failed; its rows are missing", b.name)
		}
	}

	tbl := &Table{
		Title: "Failover through haproxy and nginx",
		Intro: "The AP1 mirror set (ap1a primary, ap1b backup) behind a real haproxy or nginx running each configuration unchanged, " +
			"members named through a private /etc/hosts. A client asks AP1 every 10 ms (one TCP connection each: a line to " +
			"haproxy's SuperServer frontend, an HTTP GET of the application through nginx) which member serves it; at t0 the simulator switches roles (the backup is promoted in every scenario). " +
			"Figures are seconds after t0: the first request answered by the new primary, the last request answered " +
			"by (or, for a hang, left hanging on) the old primary, and the requests that failed. Ratios compare the " +
			"first-request figure with the two baselines of the same run. Targets (issue 12, for the agent's defaults behind agent-check.cfg): planned " +
			"switch: new primary serving within 0.5 s and the old one serving nothing after 0.5 s; hung primary routed around within 1 s; the " +
			"simulated figures and how the defaults were chosen are in docs/reports/tradeoff.md.",
		Head: []string{"scenario", "configuration", "first on new primary", "last on old primary", "failed requests", "vs check.sh", "vs direct httpchk"},
	}
	base := func(kind, sc string) Summary {
		for _, b := range balancers {
			if b.baseline == kind {
				if c := results[b.name][sc]; c != nil {
					return Summarise(c.firstNew)
				}
			}
		}
		return Summarise(nil)
	}
	for _, sc := range scenarios {
		for _, b := range balancers {
			c := results[b.name][sc.name]
			if c == nil {
				continue
			}
			fn := Summarise(c.firstNew)
			tbl.AddRow(sc.name, b.name, fn.Format(FmtDur), Summarise(c.lastOld).Format(FmtDur), Summarise(c.failed).Format(FmtCount),
				FmtRatio(Ratio(fn, base("script", sc.name))), FmtRatio(Ratio(fn, base("direct", sc.name))))
		}
	}
	for _, b := range balancers {
		if b.targets {
			tbl.Notes = append(tbl.Notes, targetNotes(b.name, results[b.name])...)
		}
	}
	tbl.Notes = append(tbl.Notes,
		"A request counts at the time it started. \"last on old primary\" 0 means none after t0.",
		"Primary hang: a failed request that took 100 ms or more counts as sent to the old primary (it hung there until the client's 400 ms timeout, or was cut when haproxy marked the server down); one refused at once does not.",
		"Failed requests in a planned switch are refusals: for a moment neither member is UP, since each agent sees its own member change at its own next poll.",
		"The limit for an agent-based configuration is the agent's interval (when its next probe sees the change) plus the balancer's check interval "+
			"(when it next asks; none with a gate, which opens and closes with the agent's snapshot) plus one round trip: "+
			fmt.Sprintf("%v + 250 ms with the agent's default interval and agent-check.cfg, %v + 100 ms with agent-check-fast.cfg. ", defaultServe(t).Interval, defaultServe(t).Interval)+
			"Polling faster while a transition is in progress (haproxy's fastinter idea) cannot shorten it, because nothing "+
			"observable precedes the first authoritative answer of the member that changed. The poke from IRIS's ^ZMIRROR NotifyBecomePrimary "+
			"(`iris-mirror-agent poke`, run here right after the promotion, a new process as IRIS runs it) removes the agent's interval for a "+
			"promotion; a demotion or a failure still waits for the next poll.")
	return tbl
}

// targetNotes holds one row's runs to the targets: every run, not the median.
func targetNotes(name string, cells map[string]*failCell) []string {
	var out []string
	if c := cells["planned switch"]; c != nil {
		fn, lo := Summarise(c.firstNew), Summarise(c.lastOld)
		out = append(out, fmt.Sprintf("%s, planned switch: at most %s to the new primary (target <= 0.5 s: %s); last request to the old primary at most %s (target <= 0.5 s: %s).",
			name, FmtDur(fn.Max), Verdict(fn.Max <= 0.5, fn.N > 0), FmtDur(lo.Max), Verdict(lo.Max <= 0.5, lo.N > 0)))
	}
	if c := cells["primary hang"]; c != nil {
		lo := Summarise(c.lastOld)
		out = append(out, fmt.Sprintf("%s, primary hang: at most %s until no request is sent to the hung member (target <= 1 s: %s).",
			name, FmtDur(lo.Max), Verdict(lo.Max <= 1, lo.N > 0)))
	}
	return out
}
