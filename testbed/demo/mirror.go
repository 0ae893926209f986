package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/agent"
	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// memberSpec is one member of the reference layout and its starting state.
type memberSpec struct {
	set   string
	name  string
	start simulator.State
}

// referenceLayout is the seed's deployment: mirror sets AP1 and AP2, each a
// primary and a backup.
var referenceLayout = []memberSpec{
	{"AP1", "ap1a", simulator.Primary}, {"AP1", "ap1b", simulator.Backup},
	{"AP2", "ap2a", simulator.Primary}, {"AP2", "ap2b", simulator.Backup},
}

// Port plan: one block of ports from base on one loopback address, never
// IRIS's own (1972, 52773) or the agent's defaults (9797, 9798), so the
// demo runs beside a real IRIS or agent without root. Member k (1-based)
// owns base+10k .. base+10k+9; the last digit recalls the real port.
const (
	offSuperServer = 2 // like 1972
	offWeb         = 3 // like 52773
	offAgentHTTP   = 7 // like 9797
	offAgentCheck  = 8 // like 9798
	offControl     = 9 // the simulator's control endpoint
	offStats       = 5 // haproxy's stats page (base+5)
)

// frontendPort is haproxy's frontend for the i-th mirror set (base+1, base+2).
func frontendPort(base, i int) int { return base + 1 + i }

func memberPort(base, k, off int) int { return base + 10*k + off }

// node is one simulated member with its control endpoint and the agent
// beside it, all in this process.
type node struct {
	spec                               memberSpec
	sim                                *simulator.Member
	ag                                 *agent.Agent
	web, superServer, http, agent, ctl string
}

// mirror is the running layout.
type mirror struct {
	ip     string
	base   int
	nodes  []*node
	sets   []string // in layout order
	events *eventLog

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	servers []*http.Server
}

// startMirror opens every member's ports and starts its agent. Each port is
// opened before anything runs, so a port in use is one clear error.
func startMirror(ip string, base int, interval, timeout time.Duration, events *eventLog) (*mirror, error) {
	ctx, cancel := context.WithCancel(context.Background())
	m := &mirror{ip: ip, base: base, events: events, cancel: cancel}
	ok := false
	defer func() {
		if !ok {
			m.close()
		}
	}()
	addr := func(port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
	for i, spec := range referenceLayout {
		k := i + 1
		n := &node{
			spec:        spec,
			web:         addr(memberPort(base, k, offWeb)),
			superServer: addr(memberPort(base, k, offSuperServer)),
			http:        addr(memberPort(base, k, offAgentHTTP)),
			agent:       addr(memberPort(base, k, offAgentCheck)),
			ctl:         addr(memberPort(base, k, offControl)),
		}
		if len(m.sets) == 0 || m.sets[len(m.sets)-1] != spec.set {
			m.sets = append(m.sets, spec.set)
		}
		n.sim = simulator.NewMember(spec.name, n.web, n.superServer, spec.start)
		if err := n.sim.Start(); err != nil {
			return nil, portError(err)
		}
		m.nodes = append(m.nodes, n)
		ctlLn, err := net.Listen("tcp", n.ctl)
		if err != nil {
			return nil, portError(fmt.Errorf("%s control: %w", spec.name, err))
		}
		m.serve(ctlLn, &http.Server{Handler: simulator.ControlHandler(n.sim), ReadHeaderTimeout: 5 * time.Second})
		if err := m.startAgent(ctx, n, interval, timeout); err != nil {
			return nil, err
		}
	}
	ok = true
	return m, nil
}

var errAddrInUse = syscall.EADDRINUSE

func portError(err error) error {
	if errors.Is(err, errAddrInUse) {
		return fmt.Errorf("%w (another demo running? pick another block with --ports)", err)
	}
	return err
}

// startAgent runs what `iris-mirror-agent serve` runs (the agent package),
// in this process, with the demo's ports and timing.
func (m *mirror) startAgent(ctx context.Context, n *node, interval, timeout time.Duration) error {
	cfg, err := config.LoadServe(nil, nil, io.Discard)
	if err != nil {
		return err
	}
	cfg.Member = n.spec.name
	cfg.MirrorStatusURL = "http://" + n.web + "/csp/mirror_status.cxw"
	cfg.SuperServer = n.superServer
	cfg.HTTPListen, cfg.AgentListen = n.http, n.agent
	cfg.Interval, cfg.Timeout = interval, timeout
	cfg.ShutdownDelay = 0
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s agent: %w", n.spec.name, err)
	}
	a, err := agent.New(cfg, agent.Options{Logger: zerolog.Nop()})
	if err != nil {
		return portError(fmt.Errorf("%s agent: %w", n.spec.name, err))
	}
	n.ag = a
	name := n.spec.name
	a.Watch(func(prev, next *checker.Snapshot) {
		if prev != nil && (prev.Role != next.Role || prev.Routable != next.Routable) {
			m.events.add(event{at: next.At, member: name, from: prev.Role, to: next.Role, routable: next.Routable, reason: next.Reason})
		}
	})
	m.wg.Add(1)
	go func() { defer m.wg.Done(); _ = a.Run(ctx) }()
	return nil
}

func (m *mirror) serve(ln net.Listener, srv *http.Server) {
	m.servers = append(m.servers, srv)
	m.wg.Add(1)
	go func() { defer m.wg.Done(); _ = srv.Serve(ln) }()
}

// close stops every agent, server and member and waits for them.
func (m *mirror) close() {
	m.cancel()
	for _, s := range m.servers {
		s.Close()
	}
	m.wg.Wait()
	for _, n := range m.nodes {
		n.sim.Close()
	}
}

// members of one set, in layout order.
func (m *mirror) members(set string) []*node {
	var out []*node
	for _, n := range m.nodes {
		if n.spec.set == set {
			out = append(out, n)
		}
	}
	return out
}

func (m *mirror) byName(name string) *node {
	for _, n := range m.nodes {
		if n.spec.name == name {
			return n
		}
	}
	return nil
}

// event is one change of an agent's answer, for the log under the table.
type event struct {
	at       time.Time
	member   string
	from, to checker.Role
	routable bool
	reason   string
}

// eventLog keeps the latest events; agents' watchers add to it from their
// poll loops, the screen reads it.
type eventLog struct {
	mu     sync.Mutex
	events []event
}

const keepEvents = 6

func (l *eventLog) add(e event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	if len(l.events) > 64 {
		l.events = append([]event(nil), l.events[len(l.events)-keepEvents:]...)
	}
}

// snapshot returns the latest events, oldest first.
func (l *eventLog) snapshot() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event(nil), l.events[max(0, len(l.events)-keepEvents):]...)
}

// firstRoutable returns when member became routable at or after t.
func (l *eventLog) firstRoutable(member string, t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.member == member && e.routable && !e.at.Before(t) {
			return e.at, true
		}
	}
	return time.Time{}, false
}
