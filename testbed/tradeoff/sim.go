package tradeoff

import (
	"slices"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// Settings are the agent settings one row tries.
type Settings struct {
	Interval, Timeout time.Duration
	Lease             time.Duration // 0: interval + timeout, as serve's --lease
	Rise, Fall        int
}

// LeaseOrDefault is the lease the agent uses with these settings.
func (s Settings) LeaseOrDefault() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return s.Interval + s.Timeout
}

// maxInFlight is the monitor's cap on rounds running at once.
func (s Settings) maxInFlight() int {
	return int((s.Timeout+s.Interval-1)/s.Interval) + 1
}

// ProbeRate is the mirror_status requests per second one agent sends.
func (s Settings) ProbeRate() float64 { return float64(time.Second) / float64(s.Interval) }

func (s Settings) checker() checker.Config {
	return checker.Config{Rise: s.Rise, Fall: s.Fall, Lease: s.LeaseOrDefault()}
}

// iris is one simulated member as its agent's probe sees it: a state,
// changed once at a given time (or never, when at is zero).
type iris struct {
	before, after simulator.State
	at            time.Time
}

func (w iris) stateAt(t time.Time) simulator.State {
	if !w.at.IsZero() && !t.Before(w.at) {
		return w.after
	}
	return w.before
}

// downErr is how long mirror_status takes to fail on a member that is
// down: the probe retries a refused connection twice, after 20 and 40 ms.
const downErr = 60 * time.Millisecond

// answer is what the mirror_status probe of a round that started at
// start returns, and when, if IRIS takes lat to answer. IRIS answers in
// the state it is in when it answers; a hung member never answers, a
// member that is down fails the request once it went down and the retries
// are spent; the round's deadline turns anything slower into a timeout.
func (w iris) answer(start time.Time, lat, timeout time.Duration) (time.Time, probe.Result) {
	at := start.Add(lat)
	res := probe.Result{Probe: probe.MirrorStatusName}
	switch w.stateAt(at) {
	case simulator.Primary:
		res.Outcome, res.Reason = probe.Primary, "mirror_status 200 SUCCESS"
	case simulator.Backup, simulator.Async:
		res.Outcome, res.Reason = probe.NotPrimary, "mirror_status 503 FAILED"
	case simulator.Down:
		from := start
		if w.at.After(from) {
			from = w.at // went down while the request waited
		}
		at = from.Add(downErr)
		res.Outcome, res.Reason = probe.Error, "mirror_status connection refused"
	case simulator.Hang:
		at = start.Add(timeout)
	}
	if at.Sub(start) >= timeout {
		at = start.Add(timeout)
		res.Outcome, res.Reason = probe.Error, "mirror_status timeout"
	}
	res.Latency = at.Sub(start)
	return at, res
}

// change is the verdict of one question flipping at a time.
type change struct {
	at time.Time
	ok bool
}

// tracker turns published snapshots into the verdict's timeline, as a
// reader asking at every instant would see it: each snapshot's verdict
// from its publication, and past its lease the stale verdict, both read
// with Snapshot.Verdict.
type tracker struct {
	q        checker.Question
	cur      *checker.Snapshot
	ok       bool
	onChange func(change)
}

func (tr *tracker) publish(at time.Time, s *checker.Snapshot) {
	tr.advance(at)
	tr.cur = s
	tr.set(at, s.Verdict(tr.q, at).OK)
}

// advance applies the current snapshot's lease up to t.
func (tr *tracker) advance(t time.Time) {
	if tr.cur != nil && tr.ok && !t.Before(tr.cur.Expires) {
		tr.set(tr.cur.Expires, tr.cur.Verdict(tr.q, tr.cur.Expires).OK)
	}
}

func (tr *tracker) set(at time.Time, ok bool) {
	if ok != tr.ok {
		tr.ok = ok
		tr.onChange(change{at, ok})
	}
}

// round is one probe round in flight.
type round struct {
	start, end time.Time
	res        probe.Result
}

// rounds are the rounds in flight, by end (a few: a sorted slice).
type rounds []round

func (r *rounds) push(x round) {
	i := len(*r)
	for i > 0 && (*r)[i-1].end.After(x.end) {
		i--
	}
	*r = slices.Insert(*r, i, x)
}

func (r *rounds) pop() round {
	x := (*r)[0]
	*r = slices.Delete(*r, 0, 1)
	return x
}

// counts are what happened to one agent's rounds.
type counts struct {
	started, skipped, superseded, timeouts uint64
}

// agent runs one member's agent the way monitor.Run does, in simulated
// time: a round starts every interval from the first (whether earlier
// ones finished or not, up to maxInFlight running), each round is
// observed when its probe returns (at the latest at its deadline, as an
// error), and the real checker.Machine decides, superseding a round that
// started before one already observed; a lease that runs out with no
// newer round is told to the machine (Expire). Its tracker follows one
// question.
type agent struct {
	s       Settings
	w       iris
	latency func() time.Duration
	m       *checker.Machine
	tr      tracker
	flight  rounds
	next    time.Time // the next round's start
	counts  counts
}

func newAgent(s Settings, w iris, latency func() time.Duration, start, first time.Time, onChange func(change)) *agent {
	a := &agent{
		s: s, w: w, latency: latency,
		m:    checker.New(s.checker(), []checker.ProbeSpec{{Name: probe.MirrorStatusName}}, start),
		tr:   tracker{q: checker.AskPrimary, onChange: onChange},
		next: first,
	}
	a.tr.publish(start, a.m.Snapshot())
	return a
}

// runUntil simulates up to t.
func (a *agent) runUntil(t time.Time) {
	for !a.next.After(t) {
		a.observeUntil(a.next)
		a.start(a.next)
		a.next = a.next.Add(a.s.Interval)
	}
	a.observeUntil(t)
	a.expireUntil(t)
	a.tr.advance(t)
}

// expireUntil tells the machine when the current snapshot's lease ran out
// by t with no newer round, as the monitor's lease watcher does (the role
// becomes unknown). A round observed at the very instant the lease ends
// comes after: the watcher needs one wake-up, a round two.
func (a *agent) expireUntil(t time.Time) {
	if s := a.tr.cur; s != nil && !t.Before(s.Expires) {
		if next, ok := a.m.Expire(s.Expires); ok {
			a.tr.publish(s.Expires, next)
		}
	}
}

func (a *agent) start(at time.Time) {
	if len(a.flight) >= a.s.maxInFlight() {
		a.counts.skipped++
		return
	}
	a.counts.started++
	end, res := a.w.answer(at, a.latency(), a.s.Timeout)
	if res.Latency >= a.s.Timeout {
		a.counts.timeouts++
	}
	a.flight.push(round{start: at, end: end, res: res})
}

// observeUntil observes, in the order they end, the rounds that ended by t.
func (a *agent) observeUntil(t time.Time) {
	for len(a.flight) > 0 && !a.flight[0].end.After(t) {
		r := a.flight.pop()
		a.expireUntil(r.end)
		a.tr.advance(r.end)
		snap, applied := a.m.Observe(r.start, r.end, r.res)
		if !applied {
			a.counts.superseded++
			continue
		}
		a.tr.publish(r.end, snap)
	}
}
