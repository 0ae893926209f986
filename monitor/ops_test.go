package monitor

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// TestTriggerIsRateLimited pokes far faster than the gap allows: rounds
// must come no faster than one per MinTriggerGap, and a poke is never lost.
func TestTriggerIsRateLimited(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	o := opts(time.Hour) // only triggers start rounds after the first
	o.MinTriggerGap = 100 * time.Millisecond
	var rounds atomic.Int64
	o.OnRound = func(r []probe.Result) { rounds.Add(1) }
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		return probe.Result{Outcome: probe.Primary, Reason: "ok"}
	})}, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	waitFor(t, 2*time.Second, func() bool { return m.Rounds() >= 1 }, "first round")

	// 600 ms of pokes every millisecond.
	end := time.Now().Add(600 * time.Millisecond)
	for time.Now().Before(end) {
		m.Trigger()
		time.Sleep(time.Millisecond)
	}
	last := m.Rounds()
	// The last poke is served too.
	waitFor(t, 2*time.Second, func() bool { return m.Rounds() > last || m.Rounds() >= 7 }, "the last poke's round")
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// A round cut by the cancel is not reported: allow one.
	if n := int(rounds.Load()); n != len(starts) && n != len(starts)-1 {
		t.Errorf("OnRound saw %d rounds, the probe ran %d", rounds.Load(), len(starts))
	}
	if len(starts) < 4 || len(starts) > 9 {
		t.Errorf("%d rounds for 600 ms of pokes at a 100 ms gap, want about 6", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 95*time.Millisecond {
			t.Errorf("rounds %d and %d only %v apart", i-1, i, gap)
		}
	}
}

func TestSetMaintenancePublishesOnce(t *testing.T) {
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		return probe.Result{Outcome: probe.Primary, Reason: "ok"}
	})}, opts(time.Hour))
	seq0 := m.Snapshot().Seq
	m.SetMaintenance(true, "drain file /x")
	m.SetMaintenance(true, "drain file /x") // no change: no publication
	s := m.Snapshot()
	if !s.Maintenance || s.Verdict(checker.AskPrimary, time.Now()).Reason != checker.ReasonMaintenance {
		t.Fatalf("%+v", s)
	}
	m.SetMaintenance(false, "")
	if published := m.Snapshot().Seq - seq0; m.Snapshot().Maintenance || published != 2 {
		t.Fatalf("maintenance %v, %d publications, want 2", m.Snapshot().Maintenance, published)
	}
}
