package haproxy

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

func qlistStandby(memberType, mirrorStatus string) *checker.Snapshot {
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: forever},
		[]checker.ProbeSpec{{Name: probe.MirrorStatusName}, {Name: probe.QListName}}, t0)
	q := probe.QList{Instance: "IRIS", Status: "running", State: "ok", MemberType: memberType, MirrorStatus: mirrorStatus}
	out, reason := q.Classify()
	return observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.NotPrimary, Reason: "mirror_status 503 FAILED"},
		probe.Result{Probe: probe.QListName, Outcome: out, Reason: reason, QList: &q})
}

func TestBackupAndAsyncWords(t *testing.T) {
	backup := qlistStandby("Failover", "Backup")
	async := qlistStandby("Disaster Recovery", "Connected")
	cases := []struct {
		snap       *checker.Snapshot
		send, want string
	}{
		{backup, "backup\n", ReplyUp},
		{backup, "ASYNC\n", "down ready #role standby (backup): mirror_status 503 FAILED\n"},
		{async, "async\n", ReplyUp},
		{async, "backup\n", "down ready #role standby (async): mirror_status 503 FAILED\n"},
		{async, "standby\n", ReplyUp},
	}
	for _, tc := range cases {
		s := &AgentServer{Snapshot: func() *checker.Snapshot { return tc.snap }}
		if got := string(s.Answer([]byte(tc.send))); got != tc.want {
			t.Errorf("%s %q: got %q, want %q", tc.snap.MirrorRole, tc.send, got, tc.want)
		}
	}
}

func TestMaintenanceReply(t *testing.T) {
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: forever}, []checker.ProbeSpec{{Name: probe.MirrorStatusName}}, t0)
	observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.Primary, Reason: "mirror_status 200 SUCCESS"})
	snap := m.SetMaintenance(t0, true, "drain file /x")
	s := &AgentServer{Snapshot: func() *checker.Snapshot { return snap }}
	for _, send := range []string{"", "primary\n", "standby\n", "health\n", "backup\n"} {
		if got := string(s.Answer([]byte(send))); got != ReplyMaintenance {
			t.Errorf("send %q in maintenance: %q", send, got)
		}
	}
	if got := string(s.Answer([]byte("live\n"))); got != ReplyUp {
		t.Errorf("live in maintenance: %q", got)
	}
}

type agentCount struct{ pass, fail, unknown atomic.Uint64 }

func (a *agentCount) CountAgentCheck(c checker.Question, ok, known bool) {
	switch {
	case !known:
		a.unknown.Add(1)
	case ok:
		a.pass.Add(1)
	default:
		a.fail.Add(1)
	}
}

func TestAgentCounterAndNoAllocations(t *testing.T) {
	snap := snapshot(probe.Primary, "mirror_status 200 SUCCESS")
	cnt := &agentCount{}
	s := &AgentServer{Snapshot: func() *checker.Snapshot { return snap }, Counter: cnt}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	buf := make([]byte, 256)
	for _, send := range []string{"primary\n", "standby\n", "bogus\n", ""} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(send))
		time.Sleep(20 * time.Millisecond) // queued before the accept, as haproxy's send is
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s.handle(sc, buf)
		c.Close()
	}
	if cnt.pass.Load() != 2 || cnt.fail.Load() != 1 || cnt.unknown.Load() != 1 {
		t.Errorf("pass %d fail %d unknown %d, want 2 1 1", cnt.pass.Load(), cnt.fail.Load(), cnt.unknown.Load())
	}
	sent := []byte("primary\n")
	s.Answer(sent)
	if n := testing.AllocsPerRun(200, func() {
		line, c, ok, known := s.answer(sent)
		cnt.CountAgentCheck(c, ok, known)
		_ = line
	}); n != 0 {
		t.Errorf("answering allocates %v times", n)
	}
}
