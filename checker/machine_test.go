package checker

import (
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

func newMachine(rise, fall int) (*Machine, *clock) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	return New(Config{Rise: rise, Fall: fall, StaleAfter: 3 * time.Second}, specs, c.now()), c
}

func TestStartsUnknownAndFailsClosed(t *testing.T) {
	m, _ := newMachine(2, 3)
	s := m.Snapshot()
	if s.Role != Unknown || s.Routable || s.Healthy {
		t.Fatalf("fresh machine: %+v", s)
	}
	for _, c := range Checks() {
		v := s.Evaluate(c)
		if c == CheckLive {
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
	s := m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Primary || !s.Routable || !s.Evaluate(CheckPrimary).OK {
		t.Fatalf("first SUCCESS: %+v", s)
	}
	s = m.Observe(c.advance(time.Second), ms(probe.NotPrimary), ss(true))
	if s.Role != Standby || s.Routable || !s.Evaluate(CheckStandby).OK || s.Evaluate(CheckPrimary).OK {
		t.Fatalf("503 must demote at once: %+v", s)
	}
	if !s.Since.Equal(c.now()) {
		t.Errorf("since %v, want %v", s.Since, c.now())
	}
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Primary || !s.Routable {
		t.Fatalf("SUCCESS must promote at once: %+v", s)
	}
}

func TestErrorsNeedFallToGoDownButPrimaryStopsRoutingAtOnce(t *testing.T) {
	m, c := newMachine(2, 3)
	m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	for i := 1; i <= 2; i++ {
		s := m.Observe(c.advance(time.Second), ms(probe.Error), ss(true))
		if s.Role != Primary {
			t.Fatalf("error %d: role %s, want primary until fall", i, s.Role)
		}
		if s.Routable || s.Evaluate(CheckPrimary).OK {
			t.Fatalf("error %d: an unconfirmed primary must not be routable", i)
		}
		if !strings.Contains(s.Reason, "timeout") {
			t.Errorf("reason %q", s.Reason)
		}
	}
	s := m.Observe(c.advance(time.Second), ms(probe.Error), ss(true))
	if s.Role != Down || s.Healthy || s.Evaluate(CheckHealth).OK {
		t.Fatalf("after fall errors: %+v", s)
	}
}

func TestRiseToLeaveDown(t *testing.T) {
	m, c := newMachine(2, 1)
	m.Observe(c.advance(time.Second), ms(probe.Error), ss(false))
	if m.Snapshot().Role != Down {
		t.Fatalf("fall 1: %s", m.Snapshot().Role)
	}
	s := m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Down || s.Routable {
		t.Fatalf("one good answer must not leave down with rise 2: %+v", s)
	}
	if !strings.Contains(s.Reason, "1/2") {
		t.Errorf("reason should show rise progress: %q", s.Reason)
	}
	// An error resets the rise count.
	m.Observe(c.advance(time.Second), ms(probe.Error), ss(true))
	m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if m.Snapshot().Role != Down {
		t.Fatal("rise count survived an error")
	}
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Primary || !s.Routable {
		t.Fatalf("after rise good answers: %+v", s)
	}
}

func TestErrorsInterleavedWithAnswersNeverReachFall(t *testing.T) {
	m, c := newMachine(2, 2)
	m.Observe(c.advance(time.Second), ms(probe.NotPrimary), ss(true))
	for range 10 {
		m.Observe(c.advance(time.Second), ms(probe.Error), ss(true))
		s := m.Observe(c.advance(time.Second), ms(probe.NotPrimary), ss(true))
		if s.Role != Standby {
			t.Fatalf("flapping probe took a standby down: %+v", s)
		}
	}
}

func TestSuperServerRefusedMeansNotRoutable(t *testing.T) {
	m, c := newMachine(2, 3)
	s := m.Observe(c.advance(time.Second), ms(probe.Primary), ss(false))
	if s.Role != Primary {
		t.Fatalf("role %s", s.Role)
	}
	if s.Routable || s.Evaluate(CheckPrimary).OK || s.Healthy {
		t.Fatalf("SuperServer refused but routable: %+v", s)
	}
	if v := s.Evaluate(CheckPrimary); !strings.Contains(v.Reason, "superserver") {
		t.Errorf("reason should name the SuperServer: %q", v.Reason)
	}
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if !s.Routable {
		t.Fatalf("SuperServer back: %+v", s)
	}
}

func TestStaleResultsMakeRoleUnknown(t *testing.T) {
	m, c := newMachine(2, 3)
	m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if _, changed := m.Tick(c.advance(3 * time.Second)); changed {
		t.Fatal("stale at exactly the limit")
	}
	s, changed := m.Tick(c.advance(time.Millisecond))
	if !changed || s.Role != Unknown || s.Routable || s.Fresh || s.Evaluate(CheckLive).OK {
		t.Fatalf("stale: changed=%v %+v", changed, s)
	}
	if _, changed := m.Tick(c.advance(time.Second)); changed {
		t.Fatal("a second stale tick republished")
	}
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Role != Primary || !s.Routable || !s.Fresh {
		t.Fatalf("fresh again: %+v", s)
	}
}

func TestStartupStaysUnknownUntilFall(t *testing.T) {
	m, c := newMachine(2, 3)
	s := m.Observe(c.advance(time.Second), ms(probe.Error), ss(false))
	if s.Role != Unknown || !strings.HasPrefix(s.Reason, "starting") {
		t.Fatalf("first error at start: %+v", s)
	}
	m.Observe(c.advance(time.Second), ms(probe.Error), ss(false))
	s = m.Observe(c.advance(time.Second), ms(probe.Error), ss(false))
	if s.Role != Down {
		t.Fatalf("after fall errors at start: %+v", s)
	}
}

func TestDrainFailsEveryCheck(t *testing.T) {
	m, c := newMachine(2, 3)
	m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	s := m.Drain(c.advance(time.Millisecond))
	for _, ck := range Checks() {
		if v := s.Evaluate(ck); v.OK || v.Reason != "shutting down" {
			t.Errorf("%s while draining: %+v", ck, v)
		}
	}
	// Results after the drain keep it draining.
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Routable || !s.Draining {
		t.Fatalf("drain undone by a result: %+v", s)
	}
}

func TestSnapshotsAreImmutable(t *testing.T) {
	m, c := newMachine(2, 3)
	a := m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true))
	b := m.Observe(c.advance(time.Second), ms(probe.NotPrimary), ss(false))
	if a == b || a.Role != Primary || a.Probes[1].Outcome != probe.Up || a.Seq >= b.Seq {
		t.Fatalf("an older snapshot changed: %+v", a)
	}
}

func TestUnknownProbeResultsAreIgnored(t *testing.T) {
	m, c := newMachine(2, 3)
	s := m.Observe(c.advance(time.Second), probe.Result{Probe: "nope", Outcome: probe.Primary}, ms(probe.Primary), ss(true))
	if !s.Routable || len(s.Probes) != 2 {
		t.Fatalf("%+v", s)
	}
}

func TestParseCheck(t *testing.T) {
	for _, c := range Checks() {
		got, ok := ParseCheck(c.String())
		if !ok || got != c {
			t.Errorf("%s: round trip gave %v %v", c, got, ok)
		}
	}
	if _, ok := ParseCheck("PRIMARY"); ok {
		t.Error("ParseCheck is exact; callers lower-case")
	}
}

// The qlist view: a third probe beside mirror_status and the SuperServer.
var qlistSpecs = append(append([]ProbeSpec(nil), specs...), ProbeSpec{Name: probe.QListName, Target: "iris qlist IRIS"})

func newQListMachine() (*Machine, *clock) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	return New(Config{Rise: 1, Fall: 3, StaleAfter: 3 * time.Second}, qlistSpecs, c.now()), c
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
	for _, c := range Checks() {
		if s.Evaluate(c).OK {
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
		mirror Mirror
		pass   string // checks that pass, in Checks() order
	}{
		{"primary", probe.Primary, ql("Failover", "Primary", running, "ok"), MirrorPrimary, "primary health live"},
		{"primary in warn", probe.Primary, ql("Failover", "Primary", running, "warn"), MirrorPrimary, "primary health live"},
		{"backup", probe.NotPrimary, ql("Failover", "Backup", running, "ok"), MirrorBackup, "standby health live backup"},
		{"dr async", probe.NotPrimary, ql("Disaster Recovery", "Connected", running, "ok"), MirrorAsync, "standby health live async"},
		{"reporting async", probe.NotPrimary, ql("Read-Only Reporting", "Synchronizing", running, "ok"), MirrorAsync, "standby health live async"},
		{"connected, old version without member type", probe.NotPrimary, ql("", "Connected", running, "ok"), MirrorAsync, "standby health live async"},
		{"failover synchronizing", probe.NotPrimary, ql("Failover", "Synchronizing", running, "ok"), MirrorInactive, "standby health live"},
		{"transition", probe.NotPrimary, ql("Failover", "Transition", running, "ok"), MirrorTransition, "health live"},
		{"transition, sign-on inhibited", probe.NotPrimary, ql("Failover", "Transition", "sign-on inhibited:primary transition", "warn"), MirrorTransition, "live"},
		{"hung", probe.NotPrimary, ql("Failover", "Backup", running, "hung"), MirrorBackup, "live"},
		{"not mirrored", probe.NotPrimary, ql("", "", running, "ok"), MirrorNone, "health live"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, c := newQListMachine()
			s := m.Observe(c.advance(time.Second), ms(tc.ms), ss(true), tc.q)
			if s.Mirror != tc.mirror {
				t.Errorf("mirror %q, want %q", s.Mirror, tc.mirror)
			}
			if got := strings.Join(passing(s), " "); got != tc.pass {
				t.Errorf("passing %q, want %q (reason %q)", got, tc.pass, s.Reason)
			}
			if s.Instance == nil || s.Instance.MirrorStatus != tc.q.QList.MirrorStatus {
				t.Errorf("instance not in the snapshot: %+v", s.Instance)
			}
			if s.Conflict != "" {
				t.Errorf("no conflict expected: %q", s.Conflict)
			}
		})
	}
}

func TestWithoutQListBackupAndAsyncAreUnknown(t *testing.T) {
	m, c := newMachine(2, 3)
	s := m.Observe(c.advance(time.Second), ms(probe.NotPrimary), ss(true))
	if !s.Evaluate(CheckStandby).OK {
		t.Fatal("standby must keep its meaning without qlist")
	}
	for _, ck := range []Check{CheckBackup, CheckAsync} {
		if v := s.Evaluate(ck); v.OK || !strings.Contains(v.Reason, "--qlist-instance") {
			t.Errorf("%s without qlist: %+v", ck, v)
		}
	}
}

func TestQListDisagreementFailsSafe(t *testing.T) {
	m, c := newQListMachine()
	// mirror_status says primary, qlist says backup: not routable.
	s := m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Backup", running, "ok"))
	if s.Role != Primary || s.Routable || s.Evaluate(CheckPrimary).OK {
		t.Fatalf("disagreement routable: %+v", s)
	}
	if !strings.Contains(s.Conflict, "qlist says Failover Backup") || !strings.Contains(s.Reason, "disagree") {
		t.Errorf("conflict %q reason %q", s.Conflict, s.Reason)
	}
	if v := s.Evaluate(CheckPrimary); !strings.Contains(v.Reason, "disagree") {
		t.Errorf("primary verdict reason %q", v.Reason)
	}
	// mirror_status says not primary, qlist says primary: not a standby either.
	s = m.Observe(c.advance(time.Second), ms(probe.NotPrimary), ss(true), ql("Failover", "Primary", running, "ok"))
	if s.Conflict == "" || len(passing(s)) != 2 { // health and live only
		t.Fatalf("reverse disagreement: conflict %q passing %v", s.Conflict, passing(s))
	}
	// Both agree again: routable at once.
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
	if !s.Routable || s.Conflict != "" {
		t.Fatalf("agreement: %+v", s)
	}
}

func TestQListFailureMakesPrimaryUnroutable(t *testing.T) {
	m, c := newQListMachine()
	m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
	hang := probe.Result{Probe: probe.QListName, Outcome: probe.Error, Reason: "qlist timeout"}
	s := m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true), hang)
	if s.Routable || s.Reason != "qlist timeout" || s.Mirror != MirrorUnknown {
		t.Fatalf("qlist hang: %+v", s)
	}
	// A qlist line that says hung, while mirror_status still answers.
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "hung"))
	if s.Routable || !strings.Contains(s.Reason, "instance hung") || s.Healthy {
		t.Fatalf("hung: %+v", s)
	}
	// Before the first qlist answer the member is not routable (fail closed).
	m2, c2 := newQListMachine()
	s = m2.Observe(c2.advance(time.Second), ms(probe.Primary), ss(true))
	if s.Routable {
		t.Fatal("routable before qlist answered")
	}
}

func TestMaintenance(t *testing.T) {
	m, c := newQListMachine()
	m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
	s := m.SetMaintenance(c.advance(time.Millisecond), true, "drain file /tmp/x")
	if s.Routable || !s.Maintenance || s.Role != Primary {
		t.Fatalf("maintenance: %+v", s)
	}
	for _, ck := range Checks() {
		v := s.Evaluate(ck)
		if ck == CheckLive {
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
	s = m.Observe(c.advance(time.Second), ms(probe.Primary), ss(true), ql("Failover", "Primary", running, "ok"))
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
	if v := s.Evaluate(CheckPrimary); v.Reason != "shutting down" || v.Maintenance {
		t.Errorf("drain in maintenance: %+v", v)
	}
}

func TestChecksNamesRoundTrip(t *testing.T) {
	if len(Checks()) != NumChecks {
		t.Fatalf("%d checks, NumChecks %d", len(Checks()), NumChecks)
	}
	for _, name := range []string{"backup", "async"} {
		if _, ok := ParseCheck(name); !ok {
			t.Errorf("%s is not a check", name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseCheck("async") }); n != 0 {
		t.Errorf("ParseCheck allocates %v times", n)
	}
}
