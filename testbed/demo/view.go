package demo

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
)

// screen owns what is shown; only the demo's loop goroutine touches it.
type screen struct {
	opts    Options
	m       *mirror
	events  *eventLog
	lb      *balancer // nil without haproxy
	lbNote  string    // why there is no haproxy
	out     io.Writer
	tty     bool // redraw in place
	keys    bool // single keys, no Enter
	routes  map[string]routeSample
	last    *action
	msg     string
	lastSig string
	started time.Time
}

// observe records a client request's outcome and settles the last action
// when the request shows its effect: the wanted member answered, or with
// no member wanted, haproxy refused at once.
func (s *screen) observe(r routeSample) {
	s.routes[r.set] = r
	a := s.last
	if a == nil || a.resolved || a.set != r.set || r.at.Before(a.at) {
		return
	}
	if (a.want != "" && r.err == nil && r.member == a.want) || (a.want == "" && r.err != nil && r.took < 100*time.Millisecond) {
		a.resolved, a.took = true, r.at.Sub(a.at)
	}
}

// resolveByAgents settles the last action from the agents when there is no
// haproxy: the wanted member's agent says routable, or none in the set does.
func (s *screen) resolveByAgents() {
	a := s.last
	if s.lb != nil || a == nil || a.resolved {
		return
	}
	if a.want != "" {
		if at, ok := s.events.firstRoutable(a.want, a.at); ok {
			a.resolved, a.took = true, at.Sub(a.at)
		}
		return
	}
	for _, n := range s.m.members(a.set) {
		if n.ag.Snapshot().Verdict(checker.AskPrimary, time.Now()).OK {
			return
		}
	}
	a.resolved, a.took = true, time.Since(a.at)
}

// row is one member's line in the table.
type row struct {
	set, member, iris, role, routable, since, lb, reason string
}

func (s *screen) rows(stats haproxyclient.ServerStats) []row {
	now := time.Now()
	var out []row
	for _, n := range s.m.nodes {
		snap := n.ag.Snapshot()
		r := row{
			set: n.spec.set, member: n.spec.name, iris: string(n.sim.State()),
			role: string(snap.Role), routable: "no", since: age(now.Sub(snap.Since)),
		}
		if v := snap.Verdict(checker.AskPrimary, time.Now()); v.OK {
			r.routable = "yes"
		} else {
			r.reason = v.Reason
		}
		switch {
		case s.lb == nil:
			r.lb = "-"
		case stats == nil:
			r.lb = "?"
		default:
			st := stats[strings.ToLower(n.spec.set)+"/"+n.spec.name]
			r.lb = st["status"]
			if sec, err := strconv.Atoi(st["lastchg"]); err == nil {
				r.lb += " " + age(time.Duration(sec)*time.Second)
			}
		}
		out = append(out, r)
	}
	return out
}

// draw writes a frame. On a terminal it redraws in place; otherwise it
// writes a frame only when something a person would notice changed, so a
// log or a test reads one frame per change. final forces a frame.
func (s *screen) draw(final bool) {
	var stats haproxyclient.ServerStats
	lbDead := ""
	if s.lb != nil {
		if s.lb.exited() {
			lbDead = fmt.Sprintf("haproxy exited (%v): %s", s.lb.exitErr, s.lb.logTail())
		} else {
			stats, _ = haproxyclient.ShowStat(s.lb.socket, 300*time.Millisecond)
		}
	}
	rows := s.rows(stats)
	var b strings.Builder
	sig := s.body(&b, rows, lbDead)
	if !s.tty {
		if sig == s.lastSig && !final {
			return
		}
		s.lastSig = sig
		fmt.Fprintf(s.out, "---- %s ----\n%s\n", time.Now().Format("15:04:05.000"), b.String())
		return
	}
	var frame strings.Builder
	frame.WriteString("\x1b[H")
	for _, line := range strings.Split(b.String(), "\n") {
		frame.WriteString(line + "\x1b[K\n")
	}
	frame.WriteString("\x1b[J")
	fmt.Fprint(s.out, frame.String())
}

// body renders the frame and returns its signature: the parts whose change
// is worth a new frame in a log (not the clock, not the ages).
func (s *screen) body(b *strings.Builder, rows []row, lbDead string) string {
	var sig strings.Builder
	lbName := s.lbNote
	if s.lb != nil {
		lbName = fmt.Sprintf("haproxy %s (pid %d), checks as examples/haproxy/agent-check.cfg", s.lb.version, s.lb.pid())
	}
	fmt.Fprintf(b, "irissim demo · mirror sets %s on %s · agents poll every %v · %s\n",
		strings.Join(s.m.sets, ", "), s.opts.IP, s.opts.Interval, time.Now().Format("15:04:05"))
	fmt.Fprintf(b, "%s\n\n", lbName)
	if lbDead != "" {
		fmt.Fprintf(b, "%s\n\n", lbDead)
		sig.WriteString(lbDead)
	}
	f := " %-4s %-7s %-8s %-10s %-9s %-7s %-18s %s\n"
	fmt.Fprintf(b, f, "set", "member", "IRIS", "agent says", "routable", "for", "haproxy server", "why not primary")
	for _, r := range rows {
		fmt.Fprintf(b, f, r.set, r.member, r.iris, r.role, r.routable, r.since, r.lb, clip(r.reason, 46))
		lbState, _, _ := strings.Cut(r.lb, " ")
		fmt.Fprint(&sig, r.member, r.iris, r.role, r.routable, lbState, ";")
	}
	b.WriteString("\n")
	if s.lb != nil {
		for i, set := range s.m.sets {
			addr := net.JoinHostPort(s.opts.IP, strconv.Itoa(frontendPort(s.opts.Ports, i)))
			r, ok := s.routes[set]
			to := "(asking)"
			switch {
			case !ok:
			case r.err != nil && r.took < 100*time.Millisecond:
				to = "no server: refused at once"
			case r.err != nil:
				to = fmt.Sprintf("no answer after %v", r.took.Round(time.Millisecond))
			default:
				to = r.member
			}
			fmt.Fprintf(b, " clients → haproxy %s %s  →  %s\n", set, addr, to)
			fmt.Fprint(&sig, set, to, ";")
		}
		fmt.Fprintf(b, " haproxy stats page: http://%s/\n\n", net.JoinHostPort(s.opts.IP, strconv.Itoa(s.opts.Ports+offStats)))
	}
	if a := s.last; a != nil {
		fmt.Fprintf(b, " last: %s %s: %s\n", a.at.Format("15:04:05"), a.set, a.label)
		fmt.Fprintf(b, "       %s\n", s.outcome(a))
		fmt.Fprint(&sig, a.label, a.resolved)
	}
	if s.msg != "" {
		fmt.Fprintf(b, " %s\n", s.msg)
		sig.WriteString(s.msg)
	}
	if evs := s.events.snapshot(); len(evs) > 0 {
		b.WriteString("\n agents' changes:\n")
		for _, e := range evs {
			change := fmt.Sprintf("%s → %s", e.from, e.to)
			switch {
			case e.from == e.to && e.routable:
				change = string(e.to) + ", routable again"
			case e.from == e.to:
				change = string(e.to) + ", not routable"
			case e.routable:
				change += " (routable)"
			}
			fmt.Fprintf(b, "   %s  %-5s %s  %s\n", e.at.Format("15:04:05.000"), e.member, change, clip(e.reason, 50))
		}
	}
	b.WriteString("\n")
	if s.keys {
		fmt.Fprintf(b, " keys: %s\n", keyHelp)
	} else {
		fmt.Fprintf(b, " %s\n", lineHelp)
	}
	first := s.m.nodes[0]
	fmt.Fprintf(b, " or from another shell: go run ./cmd/irissim set --control %s backup   (%s)\n", first.ctl, first.spec.name)
	fmt.Fprintf(b, "   control ports: %s\n", s.controlPorts())
	return sig.String()
}

// outcome says what followed an action, with the time it took.
func (s *screen) outcome(a *action) string {
	who := "haproxy"
	if s.lb == nil {
		who = "the agents"
	}
	switch {
	case !a.resolved && a.want != "":
		return fmt.Sprintf("waiting for %s to send %s clients to %s (%v so far)", who, a.set, a.want, age(time.Since(a.at)))
	case !a.resolved:
		return fmt.Sprintf("waiting for %s to stop sending %s clients anywhere (%v so far)", who, a.set, age(time.Since(a.at)))
	case s.lb == nil && a.want != "":
		return fmt.Sprintf("%s's agent said primary %s later", a.want, a.took.Round(time.Millisecond))
	case s.lb == nil:
		return fmt.Sprintf("no agent in %s says primary, %s later", a.set, a.took.Round(time.Millisecond))
	case a.want != "":
		return fmt.Sprintf("haproxy sent %s clients to %s %s later", a.set, a.want, a.took.Round(time.Millisecond))
	default:
		return fmt.Sprintf("haproxy refused %s clients at once %s later (the reference hung 5 s, then 504 after 120 s)", a.set, a.took.Round(time.Millisecond))
	}
}

func (s *screen) controlPorts() string {
	var parts []string
	for _, n := range s.m.nodes {
		_, p, _ := net.SplitHostPort(n.ctl)
		parts = append(parts, n.spec.name+" "+p)
	}
	return strings.Join(parts, ", ")
}

// age prints a duration for people: 850ms, 12.3s, 4m05s.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
