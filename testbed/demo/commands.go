package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// keyHelp is shown under the table; each key is also a line command.
const keyHelp = "f failover AP1 · g failover AP2 · s stop AP1's primary · h hang it · x stop all of AP1 · r reset · q quit"

// lineHelp lists the line commands (stdin not a terminal).
const lineHelp = "commands, one per line: f, g, s, h, x, r, q, or set MEMBER STATE (primary, backup, async, hang, down)"

// action is a change the user asked for, and what should follow from it:
// want is the member clients should reach next ("" for none).
type action struct {
	set      string
	label    string
	at       time.Time
	want     string
	resolved bool
	took     time.Duration
}

// errQuit asks the demo to stop.
var errQuit = fmt.Errorf("quit")

// apply runs one command against the layout. It returns the action to
// follow on screen, or a message to show.
func (m *mirror) apply(cmd string) (*action, string, error) {
	f := strings.Fields(strings.ToLower(cmd))
	if len(f) == 0 {
		return nil, "", nil
	}
	switch f[0] {
	case "q", "quit", "exit":
		return nil, "", errQuit
	case "f", "failover":
		return m.failover(setArg(f, "AP1"))
	case "g":
		return m.failover("AP2")
	case "s", "stop":
		return m.stopPrimary(setArg(f, "AP1"))
	case "h", "hang":
		return m.hangPrimary(setArg(f, "AP1"))
	case "x", "stop-all":
		return m.stopAll(setArg(f, "AP1"))
	case "r", "reset":
		return m.reset()
	case "set":
		if len(f) != 3 {
			return nil, "usage: set MEMBER STATE", nil
		}
		return m.setOne(f[1], f[2])
	case "?", "help":
		return nil, lineHelp, nil
	}
	return nil, fmt.Sprintf("unknown command %q: %s", cmd, lineHelp), nil
}

func setArg(f []string, def string) string {
	if len(f) > 1 {
		return strings.ToUpper(f[1])
	}
	return def
}

// change applies states in order (demote before promote, as a mirror does)
// and describes them.
func (m *mirror) change(set, want string, pairs ...any) (*action, string, error) {
	at := time.Now()
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		n, st := pairs[i].(*node), pairs[i+1].(simulator.State)
		if err := n.sim.SetState(st); err != nil {
			return nil, "", fmt.Errorf("set %s %s: %w", n.spec.name, st, err)
		}
		parts = append(parts, n.spec.name+" → "+string(st))
	}
	return &action{set: set, at: at, want: want, label: strings.Join(parts, ", ")}, "", nil
}

// roles returns the set's primary (or nil) and its other members.
func (m *mirror) roles(set string) (*node, []*node, error) {
	ms := m.members(set)
	if len(ms) == 0 {
		return nil, nil, fmt.Errorf("no mirror set %s", set)
	}
	var primary *node
	var others []*node
	for _, n := range ms {
		if primary == nil && n.sim.State() == simulator.Primary {
			primary = n
		} else {
			others = append(others, n)
		}
	}
	return primary, others, nil
}

// takeover is the member that becomes primary when the primary goes: the
// first running backup (an async is not a failover member).
func takeover(others []*node) *node {
	for _, n := range others {
		if n.sim.State() == simulator.Backup {
			return n
		}
	}
	return nil
}

func (m *mirror) failover(set string) (*action, string, error) {
	p, others, err := m.roles(set)
	if err != nil {
		return nil, err.Error(), nil
	}
	if p == nil { // nothing primary: start the first member as primary
		first := m.members(set)[0]
		return m.change(set, first.spec.name, first, simulator.Primary)
	}
	q := takeover(others)
	if q == nil {
		return nil, set + ": no running backup to fail over to (press r to reset)", nil
	}
	return m.change(set, q.spec.name, p, simulator.Backup, q, simulator.Primary)
}

func (m *mirror) stopPrimary(set string) (*action, string, error) {
	p, others, err := m.roles(set)
	if err != nil {
		return nil, err.Error(), nil
	}
	if p == nil {
		return nil, set + " has no primary to stop", nil
	}
	if q := takeover(others); q != nil {
		return m.change(set, q.spec.name, p, simulator.Down, q, simulator.Primary)
	}
	return m.change(set, "", p, simulator.Down)
}

func (m *mirror) hangPrimary(set string) (*action, string, error) {
	p, _, err := m.roles(set)
	if err != nil {
		return nil, err.Error(), nil
	}
	if p == nil {
		return nil, set + " has no primary to hang", nil
	}
	return m.change(set, "", p, simulator.Hang)
}

func (m *mirror) stopAll(set string) (*action, string, error) {
	var pairs []any
	for _, n := range m.members(set) {
		pairs = append(pairs, n, simulator.Down)
	}
	if len(pairs) == 0 {
		return nil, "no mirror set " + set, nil
	}
	return m.change(set, "", pairs...)
}

// reset puts every member back in its starting state; the action follows AP1.
func (m *mirror) reset() (*action, string, error) {
	var demote, promote []any
	want := ""
	for _, n := range m.nodes {
		if n.spec.start == simulator.Primary {
			promote = append(promote, n, n.spec.start)
			if n.spec.set == m.sets[0] {
				want = n.spec.name
			}
		} else {
			demote = append(demote, n, n.spec.start)
		}
	}
	return m.change(m.sets[0], want, append(demote, promote...)...)
}

func (m *mirror) setOne(name, state string) (*action, string, error) {
	n := m.byName(name)
	if n == nil {
		return nil, fmt.Sprintf("no member %q (ap1a, ap1b, ap2a, ap2b)", name), nil
	}
	st, err := simulator.ParseState(state)
	if err != nil {
		return nil, err.Error(), nil
	}
	want := ""
	if st == simulator.Primary {
		want = n.spec.name
	} else if p, _, _ := m.roles(n.spec.set); p != nil && p != n {
		want = p.spec.name
	}
	return m.change(n.spec.set, want, n, st)
}
