package checker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// clock is a fake clock: tests move it by hand and never sleep.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                    { return c.t }
func (c *clock) advance(d time.Duration) time.Time { c.t = c.t.Add(d); return c.t }

var specs = []ProbeSpec{
	{Name: probe.MirrorStatusName, Target: "http://127.0.0.1:52773/csp/mirror_status.cxw"},
	{Name: probe.SuperServerName, Target: "127.0.0.1:1972"},
}

func ms(o probe.Outcome) probe.Result {
	reasons := map[probe.Outcome]string{
		probe.Primary: "mirror_status 200 SUCCESS", probe.NotPrimary: "mirror_status 503 FAILED",
		probe.Error: "mirror_status timeout",
	}
	return probe.Result{Probe: probe.MirrorStatusName, Outcome: o, Reason: reasons[o]}
}

func ss(up bool) probe.Result {
	if up {
		return probe.Result{Probe: probe.SuperServerName, Outcome: probe.Up, Reason: "superserver accepted"}
	}
	return probe.Result{Probe: probe.SuperServerName, Outcome: probe.Error, Reason: "superserver connection refused"}
}

// observe feeds a round that started and finished at now.
func observe(m *Machine, now time.Time, results ...probe.Result) *Snapshot {
	s, _ := m.Observe(now, now, results...)
	return s
}

// ask answers q at the time the snapshot was made.
func ask(s *Snapshot, q Question) Verdict { return s.Verdict(q, s.At) }

func newMachine(rise, fall int) (*Machine, *clock) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	return New(Config{Rise: rise, Fall: fall, Lease: 3 * time.Second}, specs, c.now()), c
}

func TestStartsUnknownAndFailsClosed(t *testing.T) {
	m, _ := newMachine(2, 3)
	s := m.Snapshot()
	if s.Role != Unknown || s.Routable || s.Healthy {
		t.Fatalf("fresh machine: %+v", s)
	}
	for _, c := range Questions() {
		v := ask(s, c)
		if c == AskLive {
			if !v.OK {
				t.Errorf("live must pass while the first round runs: %+v", v)
			}
			continue
		}
		if v.OK {
			t.Errorf("%s passes before any result", c)
		}
	}
}

func TestAuthoritativeAnswersActAtOnce(t *testing.T) {
	m, c := newMachine(2, 3)
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Primary || !s.Routable || !ask(s, AskPrimary).OK {
		t.Fatalf("first SUCCESS: %+v", s)
	}
	s = observe(m, c.advance(time.Second), ms(probe.NotPrimary), ss(true))
	if s.Role != Standby || s.Routable || !ask(s, AskStandby).OK || ask(s, AskPrimary).OK {
		t.Fatalf("503 must demote at once: %+v", s)
	}
	if !s.Since.Equal(c.now()) {
		t.Errorf("since %v, want %v", s.Since, c.now())
	}
	s = observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Primary || !s.Routable {
		t.Fatalf("SUCCESS must promote at once: %+v", s)
	}
}

func TestErrorsNeedFallToGoDownButPrimaryStopsRoutingAtOnce(t *testing.T) {
	m, c := newMachine(2, 3)
	observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	for i := 1; i <= 2; i++ {
		s := observe(m, c.advance(time.Second), ms(probe.Error), ss(true))
		if s.Role != Primary {
			t.Fatalf("error %d: role %s, want primary until fall", i, s.Role)
		}
		if s.Routable || ask(s, AskPrimary).OK {
			t.Fatalf("error %d: an unconfirmed primary must not be routable", i)
		}
		if !strings.Contains(s.Reason, "timeout") {
			t.Errorf("reason %q", s.Reason)
		}
	}
	s := observe(m, c.advance(time.Second), ms(probe.Error), ss(true))
	if s.Role != Down || s.Healthy || ask(s, AskHealth).OK {
		t.Fatalf("after fall errors: %+v", s)
	}
}

func TestRiseToLeaveDown(t *testing.T) {
	m, c := newMachine(2, 1)
	observe(m, c.advance(time.Second), ms(probe.Error), ss(false))
	if m.Snapshot().Role != Down {
		t.Fatalf("fall 1: %s", m.Snapshot().Role)
	}
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Down || s.Routable {
		t.Fatalf("one good answer must not leave down with rise 2: %+v", s)
	}
	if !strings.Contains(s.Reason, "1/2") {
		t.Errorf("reason should show rise progress: %q", s.Reason)
	}
	// An error resets the rise count.
	observe(m, c.advance(time.Second), ms(probe.Error), ss(true))
	observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if m.Snapshot().Role != Down {
		t.Fatal("rise count survived an error")
	}
	s = observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Primary || !s.Routable {
		t.Fatalf("after rise good answers: %+v", s)
	}
}

func TestErrorsInterleavedWithAnswersNeverReachFall(t *testing.T) {
	m, c := newMachine(2, 2)
	observe(m, c.advance(time.Second), ms(probe.NotPrimary), ss(true))
	for range 10 {
		observe(m, c.advance(time.Second), ms(probe.Error), ss(true))
		s := observe(m, c.advance(time.Second), ms(probe.NotPrimary), ss(true))
		if s.Role != Standby {
			t.Fatalf("flapping probe took a standby down: %+v", s)
		}
	}
}

func TestSuperServerRefusedMeansNotRoutable(t *testing.T) {
	m, c := newMachine(2, 3)
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(false))
	if s.Role != Primary {
		t.Fatalf("role %s", s.Role)
	}
	if s.Routable || ask(s, AskPrimary).OK || s.Healthy {
		t.Fatalf("SuperServer refused but routable: %+v", s)
	}
	if v := ask(s, AskPrimary); !strings.Contains(v.Reason, "superserver") {
		t.Errorf("reason should name the SuperServer: %q", v.Reason)
	}
	s = observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if !s.Routable {
		t.Fatalf("SuperServer back: %+v", s)
	}
}

func TestLeaseRunsFromTheRoundStart(t *testing.T) {
	m, c := newMachine(2, 3) // lease 3s
	started := c.advance(time.Second)
	s, _ := m.Observe(started, c.advance(500*time.Millisecond), ms(probe.Primary), ss(true))
	if !s.Expires.Equal(started.Add(3 * time.Second)) {
		t.Fatalf("expires %v, want the round start + lease", s.Expires)
	}
	if v := s.Verdict(AskPrimary, started.Add(3*time.Second-time.Nanosecond)); !v.OK {
		t.Fatalf("inside the lease: %+v", v)
	}
	for _, q := range Questions() {
		v := s.Verdict(q, started.Add(3*time.Second))
		if v.OK || !v.Stale || !strings.HasPrefix(v.Reason, "stale: no probe result for 2.5s") {
			t.Errorf("%s at the lease's end: %+v", q, v)
		}
	}
	// A snapshot never read again still fails: nothing needs to publish.
	if v := s.Verdict(AskLive, started.Add(time.Hour)); v.OK {
		t.Fatal("live passed an hour after the lease")
	}
}

func TestStartIsLiveForOneLeaseAndRoutableForNobody(t *testing.T) {
	m, c := newMachine(2, 3)
	s := m.Snapshot()
	if v := s.Verdict(AskLive, c.now().Add(3*time.Second-time.Nanosecond)); !v.OK {
		t.Errorf("live during the first lease: %+v", v)
	}
	v := s.Verdict(AskLive, c.now().Add(3*time.Second))
	if v.OK || !strings.Contains(v.Reason, "no probe result since start") {
		t.Errorf("live after the first lease with no round: %+v", v)
	}
}

func TestOverlappingRoundsNewestStartWins(t *testing.T) {
	m, c := newMachine(2, 3)
	t0 := c.now()
	// Round A started at t0 hangs; round B started 200ms later answers first.
	b, ok := m.Observe(t0.Add(200*time.Millisecond), t0.Add(220*time.Millisecond), ms(probe.Primary), ss(true))
	if !ok || !b.Routable {
		t.Fatalf("round B: %+v", b)
	}
	// A's timeout arrives late: it says nothing newer than B.
	a, ok := m.Observe(t0, t0.Add(800*time.Millisecond), ms(probe.Error), ss(true))
	if ok || a != b {
		t.Fatalf("a superseded round changed the snapshot: %+v", a)
	}
	// A newer round's answer acts as usual.
	s, ok := m.Observe(t0.Add(400*time.Millisecond), t0.Add(900*time.Millisecond), ms(probe.NotPrimary), ss(true))
	if !ok || s.Role != Standby || !s.Expires.Equal(t0.Add(400*time.Millisecond+3*time.Second)) {
		t.Fatalf("round C: ok=%v %+v", ok, s)
	}
}

func TestMaintenanceAndDrainDoNotRenewTheLease(t *testing.T) {
	m, c := newMachine(2, 3)
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	exp := s.Expires
	if s2 := m.SetMaintenance(c.advance(2*time.Second), true, "admin socket"); !s2.Expires.Equal(exp) {
		t.Errorf("maintenance moved the lease: %v, want %v", s2.Expires, exp)
	}
	if s3 := m.Drain(c.advance(2 * time.Second)); !s3.Expires.Equal(exp) {
		t.Errorf("drain moved the lease: %v, want %v", s3.Expires, exp)
	}
	// Past the lease, shutting down keeps its own reason.
	if v := m.Snapshot().Verdict(AskPrimary, c.advance(time.Hour)); v.Reason != "shutting down" {
		t.Errorf("draining past the lease: %+v", v)
	}
}

func TestVerdictDoesNotAllocate(t *testing.T) {
	m, c := newMachine(2, 3)
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	now := c.now()
	if n := testing.AllocsPerRun(100, func() { _ = s.Verdict(AskPrimary, now) }); n != 0 {
		t.Errorf("Verdict allocates %v times", n)
	}
}

func TestStartupStaysUnknownUntilFall(t *testing.T) {
	m, c := newMachine(2, 3)
	s := observe(m, c.advance(time.Second), ms(probe.Error), ss(false))
	if s.Role != Unknown || !strings.HasPrefix(s.Reason, "starting") {
		t.Fatalf("first error at start: %+v", s)
	}
	observe(m, c.advance(time.Second), ms(probe.Error), ss(false))
	s = observe(m, c.advance(time.Second), ms(probe.Error), ss(false))
	if s.Role != Down {
		t.Fatalf("after fall errors at start: %+v", s)
	}
}

func TestDrainFailsEveryQuestion(t *testing.T) {
	m, c := newMachine(2, 3)
	observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	s := m.Drain(c.advance(time.Millisecond))
	for _, ck := range Questions() {
		if v := ask(s, ck); v.OK || v.Reason != "shutting down" {
			t.Errorf("%s while draining: %+v", ck, v)
		}
	}
	// Results after the drain keep it draining.
	s = observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Routable || !s.Draining {
		t.Fatalf("drain undone by a result: %+v", s)
	}
}

func TestSnapshotsAreImmutable(t *testing.T) {
	m, c := newMachine(2, 3)
	a := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	b := observe(m, c.advance(time.Second), ms(probe.NotPrimary), ss(false))
	if a == b || a.Role != Primary || a.Probes[1].Outcome != probe.Up || a.Seq >= b.Seq {
		t.Fatalf("an older snapshot changed: %+v", a)
	}
}

func TestUnknownProbeResultsAreIgnored(t *testing.T) {
	m, c := newMachine(2, 3)
	s := observe(m, c.advance(time.Second), probe.Result{Probe: "nope", Outcome: probe.Primary}, ms(probe.Primary), ss(true))
	if !s.Routable || len(s.Probes) != 2 {
		t.Fatalf("%+v", s)
	}
}

func TestParseQuestion(t *testing.T) {
	for _, c := range Questions() {
		got, ok := ParseQuestion(c.String())
		if !ok || got != c {
			t.Errorf("%s: round trip gave %v %v", c, got, ok)
		}
	}
	if _, ok := ParseQuestion("PRIMARY"); ok {
		t.Error("ParseQuestion is exact; callers lower-case")
	}
}

// The qlist view: a third probe beside mirror_status and the SuperServer.
var qlistSpecs = append(append([]ProbeSpec(nil), specs...), ProbeSpec{Name: probe.QListName, Target: "iris qlist IRIS"})

func newQListMachine() (*Machine, *clock) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	return New(Config{Rise: 1, Fall: 3, Lease: 3 * time.Second}, qlistSpecs, c.now()), c
}

// ql builds a qlist result from its member type, mirror status, status and
// state, classified as the probe does.
func ql(memberType, mirrorStatus, status, state string) probe.Result {
	q := probe.QList{Instance: "IRIS", Status: status, State: state, MemberType: memberType, MirrorStatus: mirrorStatus}
	out, reason := q.Classify()
	return probe.Result{Probe: probe.QListName, Outcome: out, Reason: reason, QList: &q}
}

const running = "running, since Tue Nov 25 09:12:44 2026"

func passing(s *Snapshot) []string {
	var out []string
	for _, c := range Questions() {
		if ask(s, c).OK {
			out = append(out, c.String())
		}
	}
	return out
}

func TestQListRoles(t *testing.T) {
	cases := []struct {
		name   string
		ms     probe.Outcome
		q      probe.Result
		mirror probe.MirrorRole
		pass   string // checks that pass, in Questions() order
	}{
		{"primary", probe.Primary, ql("Failover", "Primary", running, "ok"), probe.MirrorPrimary, "primary health live"},
		{"primary in warn", probe.Primary, ql("Failover", "Primary", running, "warn"), probe.MirrorPrimary, "primary health live"},
		{"backup", probe.NotPrimary, ql("Failover", "Backup", running, "ok"), probe.MirrorBackup, "standby health live backup"},
		{"dr async", probe.NotPrimary, ql("Disaster Recovery", "Connected", running, "ok"), probe.MirrorAsync, "standby health live async"},
		{"reporting async", probe.NotPrimary, ql("Read-Only Reporting", "Synchronizing", running, "ok"), probe.MirrorAsync, "standby health live async"},
		{"connected, old version without member type", probe.NotPrimary, ql("", "Connected", running, "ok"), probe.MirrorAsync, "standby health live async"},
		{"failover synchronizing", probe.NotPrimary, ql("Failover", "Synchronizing", running, "ok"), probe.MirrorInactive, "standby health live"},
		{"transition", probe.NotPrimary, ql("Failover", "Transition", running, "ok"), probe.MirrorTransition, "health live"},
		{"transition, sign-on inhibited", probe.NotPrimary, ql("Failover", "Transition", "sign-on inhibited:primary transition", "warn"), probe.MirrorTransition, "live"},
		{"hung", probe.NotPrimary, ql("Failover", "Backup", running, "hung"), probe.MirrorBackup, "live"},
		{"not mirrored", probe.NotPrimary, ql("", "", running, "ok"), probe.MirrorNone, "health live"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, c := newQListMachine()
			s := observe(m, c.advance(time.Second), ms(tc.ms), ss(true), tc.q)
			if s.MirrorRole != tc.mirror {
				t.Errorf("mirror %q, want %q", s.MirrorRole, tc.mirror)
			}
			if got := strings.Join(passing(s), " "); got != tc.pass {
				t.Errorf("passing %q, want %q (reason %q)", got, tc.pass, s.Reason)
			}
			if s.QList == nil || s.QList.MirrorStatus != tc.q.QList.MirrorStatus {
				t.Errorf("instance not in the snapshot: %+v", s.QList)
			}
			if s.Conflict != "" {
				t.Errorf("no conflict expected: %q", s.Conflict)
			}
		})
	}
}

func TestWithoutQListBackupAndAsyncAreUnknown(t *testing.T) {
	m, c := newMachine(2, 3)
	s := observe(m, c.advance(time.Second), ms(probe.NotPrimary), ss(true))
	if !ask(s, AskStandby).OK {
		t.Fatal("standby must keep its meaning without qlist")
	}
	for _, ck := range []Question{AskBackup, AskAsync} {
		if v := ask(s, ck); v.OK || !strings.Contains(v.Reason, "--qlist-instance") {
			t.Errorf("%s without qlist: %+v", ck, v)
		}
	}
}

func TestQListDisagreementFailsSafe(t *testing.T) {
	m, c := newQListMachine()
	// mirror_status says primary, qlist says backup: not routable.
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Backup", running, "ok"))
	if s.Role != Primary || s.Routable || ask(s, AskPrimary).OK {
		t.Fatalf("disagreement routable: %+v", s)
	}
	if !strings.Contains(s.Conflict, "qlist says Failover Backup") || !strings.Contains(s.Reason, "disagree") {
		t.Errorf("conflict %q reason %q", s.Conflict, s.Reason)
	}
	if v := ask(s, AskPrimary); !strings.Contains(v.Reason, "disagree") {
		t.Errorf("primary verdict reason %q", v.Reason)
	}
	// mirror_status says not primary, qlist says primary: not a standby either.
	s = observe(m, c.advance(time.Second), ms(probe.NotPrimary), ss(true), ql("Failover", "Primary", running, "ok"))
	if s.Conflict == "" || len(passing(s)) != 2 { // health and live only
		t.Fatalf("reverse disagreement: conflict %q passing %v", s.Conflict, passing(s))
	}
	// Both agree again: routable at once.
	s = observe(m, c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
	if !s.Routable || s.Conflict != "" {
		t.Fatalf("agreement: %+v", s)
	}
}

func TestQListFailureMakesPrimaryUnroutable(t *testing.T) {
	m, c := newQListMachine()
	observe(m, c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
	hang := probe.Result{Probe: probe.QListName, Outcome: probe.Error, Reason: "qlist timeout"}
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true), hang)
	if s.Routable || s.Reason != "qlist timeout" || s.MirrorRole != probe.MirrorUnknown {
		t.Fatalf("qlist hang: %+v", s)
	}
	// A qlist line that says hung, while mirror_status still answers.
	s = observe(m, c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "hung"))
	if s.Routable || !strings.Contains(s.Reason, "instance hung") || s.Healthy {
		t.Fatalf("hung: %+v", s)
	}
	// Before the first qlist answer the member is not routable (fail closed).
	m2, c2 := newQListMachine()
	s = observe(m2, c2.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Routable {
		t.Fatal("routable before qlist answered")
	}
}

func TestMaintenance(t *testing.T) {
	m, c := newQListMachine()
	observe(m, c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
	s := m.SetMaintenance(c.advance(time.Millisecond), true, "drain file /tmp/x")
	if s.Routable || !s.Maintenance || s.Role != Primary {
		t.Fatalf("maintenance: %+v", s)
	}
	for _, ck := range Questions() {
		v := ask(s, ck)
		if ck == AskLive {
			if !v.OK {
				t.Error("live must pass in maintenance: the agent works")
			}
			continue
		}
		if v.OK || v.Reason != ReasonMaintenance || !v.Maintenance {
			t.Errorf("%s in maintenance: %+v", ck, v)
		}
	}
	if !strings.Contains(s.Reason, "drain file /tmp/x") || s.MaintenanceSource != "drain file /tmp/x" {
		t.Errorf("reason %q source %q", s.Reason, s.MaintenanceSource)
	}
	// Results keep it in maintenance; switching off restores at once.
	s = observe(m, c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
	if s.Routable {
		t.Fatal("a probe round ended maintenance")
	}
	s = m.SetMaintenance(c.advance(time.Millisecond), false, "")
	if !s.Routable || s.Maintenance || s.MaintenanceSource != "" {
		t.Fatalf("after maintenance: %+v", s)
	}
	// Shutting down wins over maintenance.
	m.SetMaintenance(c.advance(time.Millisecond), true, "admin socket")
	s = m.Drain(c.advance(time.Millisecond))
	if v := ask(s, AskPrimary); v.Reason != "shutting down" || v.Maintenance {
		t.Errorf("drain in maintenance: %+v", v)
	}
}

func TestQuestionNamesRoundTrip(t *testing.T) {
	if len(Questions()) != NumQuestions {
		t.Fatalf("%d checks, NumQuestions %d", len(Questions()), NumQuestions)
	}
	for _, name := range []string{"backup", "async"} {
		if _, ok := ParseQuestion(name); !ok {
			t.Errorf("%s is not a check", name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseQuestion("async") }); n != 0 {
		t.Errorf("ParseQuestion allocates %v times", n)
	}
}

func TestExpireTellsButRenewsNothing(t *testing.T) {
	m, c := newMachine(2, 3) // lease 3s
	s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true))
	if _, ok := m.Expire(c.advance(2 * time.Second)); ok {
		t.Fatal("expired inside the lease")
	}
	e, ok := m.Expire(c.advance(time.Second))
	if !ok || e.Role != Unknown || !strings.HasPrefix(e.Reason, "stale: no probe result for 3.0s") || !e.Expires.Equal(s.Expires) {
		t.Fatalf("expire: ok=%v %+v", ok, e)
	}
	if _, again := m.Expire(c.advance(time.Second)); again {
		t.Fatal("expired twice")
	}
	// The next round decides as usual.
	if s := observe(m, c.advance(time.Second), ms(probe.Primary), ss(true)); s.Role != Primary || !ask(s, AskPrimary).OK {
		t.Fatalf("after a round: %+v", s)
	}
}

// TestHungMemberGoesDownAcrossExpiries: a hung member's rounds end with
// their errors when the lease of the round before has just run out (the
// default lease is interval + timeout). Each expiry makes the role
// unknown; the errors still count toward --fall, and the role goes down,
// where it stays: a down role does not expire to unknown.
func TestHungMemberGoesDownAcrossExpiries(t *testing.T) {
	m, c := newMachine(2, 3) // lease 3s
	start := c.now()
	observe(m, start, ms(probe.Primary), ss(true))
	var s *Snapshot
	for i := 1; i <= 3; i++ {
		// The round that started i seconds in (the interval) ends at its
		// timeout, 2 s later, as the lease of the one before runs out.
		end := start.Add(time.Duration(i+2) * time.Second)
		if e, ok := m.Expire(end); !ok || e.Role == Down {
			t.Fatalf("expiry %d: ok=%v %+v", i, ok, e)
		}
		s, _ = m.Observe(start.Add(time.Duration(i)*time.Second), end, ms(probe.Error), ss(true))
	}
	if s.Role != Down || ask(s, AskPrimary).OK {
		t.Fatalf("after 3 errors across expiries: %+v", s)
	}
	// Down, the expiries tell nothing: the role stays down, round after
	// round, instead of flapping down, unknown, down.
	for i := 4; i <= 6; i++ {
		end := start.Add(time.Duration(i+2) * time.Second)
		if e, ok := m.Expire(end); ok {
			t.Fatalf("expiry %d while down: %+v", i, e)
		}
		if v := m.Snapshot().Verdict(AskPrimary, end.Add(time.Millisecond)); v.OK {
			t.Fatalf("expiry %d while down: a reader was told %+v", i, v)
		}
		s, _ = m.Observe(start.Add(time.Duration(i)*time.Second), end, ms(probe.Error), ss(true))
		if s.Role != Down || !strings.Contains(s.Reason, fmt.Sprintf("(%d in a row)", i)) {
			t.Fatalf("round %d while hung: %+v", i, s)
		}
	}
}
