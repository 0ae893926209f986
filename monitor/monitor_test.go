package monitor

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

func opts(interval time.Duration) Options {
	return Options{
		Member: "t", Interval: interval, Timeout: interval,
		Checker: checker.Config{Rise: 1, Fall: 1, Lease: 2 * interval},
		Logger:  zerolog.Nop(),
	}
}

func mirror(run probe.Func) Prober {
	return Prober{Spec: checker.ProbeSpec{Name: probe.MirrorStatusName}, Run: run}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPublishesAndReadersNeverCallProbes(t *testing.T) {
	var calls atomic.Int64
	var inFlight, maxInFlight atomic.Int64
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		calls.Add(1)
		n := inFlight.Add(1)
		for {
			old := maxInFlight.Load()
			if n <= old || maxInFlight.CompareAndSwap(old, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		return probe.Result{Outcome: probe.Primary, Reason: "ok"}
	})}, opts(50*time.Millisecond))
	if m.Snapshot().Role != checker.Unknown {
		t.Fatal("must start unknown")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()

	// Many readers hammering the snapshot do not cause probes.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = m.Snapshot().Verdict(checker.AskPrimary, time.Now())
				}
			}
		}()
	}
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Routable }, "routable primary")
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	cancel()
	<-done
	// 500 ms at a 50 ms interval: about 10 rounds, never one per read.
	if n := calls.Load(); n < 3 || n > 20 {
		t.Fatalf("%d probe calls in ~0.5 s at a 50 ms interval", n)
	}
	if n := maxInFlight.Load(); n > int64(m.maxInFlight) {
		t.Fatalf("%d probes in flight at once, cap %d", n, m.maxInFlight)
	}
}

// TestStalledRoundFailsClosedWithinTheLease: a probe that ignores its
// deadline stops every round from finishing; no goroutine needs to notice
// for /primary to fail, because the last snapshot's lease runs out.
func TestStalledRoundFailsClosedWithinTheLease(t *testing.T) {
	block := make(chan struct{})
	var first atomic.Bool
	o := opts(20 * time.Millisecond)
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		if first.CompareAndSwap(false, true) {
			return probe.Result{Outcome: probe.Primary, Reason: "ok"}
		}
		<-block // a probe that ignores its deadline
		return probe.Result{Outcome: probe.Primary, Reason: "late"}
	})}, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Routable }, "primary")
	s := m.Snapshot()
	// The lease is read, not published: the snapshot itself stays as it was.
	lease := s.Started.Add(o.Checker.Lease)
	if !s.Expires.Equal(lease) {
		t.Fatalf("expires %v, want started + lease %v", s.Expires, lease)
	}
	waitFor(t, 2*time.Second, func() bool { return !time.Now().Before(lease) }, "the lease's end")
	for _, q := range checker.Questions() {
		if v := m.Snapshot().Verdict(q, time.Now()); v.OK || !v.Stale {
			t.Errorf("%s after the lease: %+v", q, v)
		}
	}
	waitFor(t, 2*time.Second, func() bool { return m.Stats().Skipped > 0 }, "rounds skipped at the cap")
	// Logs, hooks and metrics hear of it: a snapshot with role unknown is
	// published, with the same lease (it renews nothing).
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Role == checker.Unknown }, "the expiry told")
	if s2 := m.Snapshot(); !s2.Expires.Equal(s.Expires) || !strings.HasPrefix(s2.Reason, "stale") {
		t.Fatalf("expiry snapshot: expires %v (was %v), reason %q", s2.Expires, s.Expires, s2.Reason)
	}
	if st := m.Stats(); st.InFlight > int64(m.maxInFlight) {
		t.Errorf("stalled rounds beyond the cap: %+v", st)
	}
	cancel()
	close(block)
	<-done
}

// TestSlowAnswerIsOvertaken: one mirror_status answer slower than the
// interval (a latency spike) is overtaken by the next round's: the member
// stays routable throughout, and the slow round's late timeout is
// superseded rather than taken for news.
func TestSlowAnswerIsOvertaken(t *testing.T) {
	o := opts(50 * time.Millisecond)
	o.Timeout = 500 * time.Millisecond
	o.Checker.Lease = o.Interval + o.Timeout
	var calls atomic.Int64
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		if calls.Add(1) == 3 {
			<-ctx.Done() // this one answers only at its deadline
			return probe.Result{Outcome: probe.Error, Reason: "mirror_status timeout"}
		}
		return probe.Result{Outcome: probe.Primary, Reason: "ok"}
	})}, o)
	var mu sync.Mutex
	var published []bool
	m.Watch(func(_, next *checker.Snapshot) {
		mu.Lock()
		published = append(published, next.Routable)
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	waitFor(t, 5*time.Second, func() bool { return m.Stats().Superseded >= 1 }, "the slow round to finish late")
	if v := m.Snapshot().Verdict(checker.AskPrimary, time.Now()); !v.OK {
		t.Errorf("after the slow round: %+v", v)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for i, r := range published[1:] {
		if !r {
			t.Fatalf("publication %d was not routable: %v", i+1, published)
		}
	}
}

// TestBlockedWatcherAndLogDoNotHoldAnswers: a watcher that never returns
// and a log whose writer blocks change nothing for the readers.
func TestBlockedWatcherAndLogDoNotHoldAnswers(t *testing.T) {
	o := opts(20 * time.Millisecond)
	stuck := make(chan struct{})
	defer close(stuck)
	o.Logger = zerolog.New(blockingWriter(stuck))
	var primary atomic.Bool
	primary.Store(true)
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		if primary.Load() {
			return probe.Result{Outcome: probe.Primary, Reason: "ok"}
		}
		return probe.Result{Outcome: probe.NotPrimary, Reason: "mirror_status 503 FAILED"}
	})}, o)
	m.Watch(func(_, _ *checker.Snapshot) { <-stuck })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Routable }, "primary")
	primary.Store(false)
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Role == checker.Standby }, "standby despite a stuck watcher and log")
	m.SetMaintenance(true, "test")
	m.Drain()
	if s := m.Snapshot(); !s.Draining || !s.Maintenance {
		t.Fatalf("maintenance and drain must not wait for the notifier: %+v", s)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

type blockingWriter chan struct{}

func (b blockingWriter) Write(p []byte) (int, error) { <-b; return len(p), nil }

func TestTriggerProbesEarly(t *testing.T) {
	var calls atomic.Int64
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		calls.Add(1)
		return probe.Result{Outcome: probe.NotPrimary, Reason: "503"}
	})}, opts(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	waitFor(t, 2*time.Second, func() bool { return calls.Load() == 1 }, "first round")
	m.Trigger()
	waitFor(t, 2*time.Second, func() bool { return calls.Load() == 2 }, "triggered round")
	cancel()
	<-done
}

func TestDrainAndWatchers(t *testing.T) {
	var seen []string
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		return probe.Result{Outcome: probe.Primary, Reason: "ok"}
	})}, opts(time.Hour))
	var mu sync.Mutex
	m.Watch(func(prev, next *checker.Snapshot) {
		mu.Lock()
		seen = append(seen, string(prev.Role)+">"+string(next.Role))
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Routable }, "primary")
	m.Drain()
	if s := m.Snapshot(); s.Routable || !s.Draining {
		t.Fatalf("after drain: %+v", s)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 || seen[0] != "unknown>primary" {
		t.Fatalf("watchers saw %v", seen)
	}
}

// TestStallStopsPrimaryWithinIntervalPlusTimeout: at any settings, a probe
// that ignores its deadline stops /primary within interval + timeout of
// the first round that stalled (the last good round started before it, and
// its lease is interval + timeout), plus 100 ms to observe it.
func TestStallStopsPrimaryWithinIntervalPlusTimeout(t *testing.T) {
	for _, s := range []struct{ interval, timeout time.Duration }{
		{20 * time.Millisecond, 20 * time.Millisecond},
		{50 * time.Millisecond, 200 * time.Millisecond},
		{200 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(s.interval.String()+"/"+s.timeout.String(), func(t *testing.T) {
			o := opts(s.interval)
			o.Timeout = s.timeout
			o.Checker.Lease = s.interval + s.timeout
			block := make(chan struct{})
			var stall atomic.Bool
			var stalledAt atomic.Pointer[time.Time]
			m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
				if stall.Load() {
					now := time.Now()
					stalledAt.CompareAndSwap(nil, &now)
					<-block // ignores ctx
				}
				return probe.Result{Outcome: probe.Primary, Reason: "ok"}
			})}, o)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = m.Run(ctx); close(done) }()
			defer func() { cancel(); close(block); <-done }()
			waitFor(t, 5*time.Second, func() bool { return m.Snapshot().Verdict(checker.AskPrimary, time.Now()).OK }, "primary")
			stall.Store(true)
			waitFor(t, 5*time.Second, func() bool { return !m.Snapshot().Verdict(checker.AskPrimary, time.Now()).OK }, "not primary")
			failed := time.Now()
			took := failed.Sub(*stalledAt.Load())
			if bound := s.interval + s.timeout + 100*time.Millisecond; took > bound {
				t.Fatalf("/primary failed %v after the first stalled round, want within %v", took, bound)
			}
			t.Logf("failed closed %v after the first stalled round", took.Round(time.Millisecond))
		})
	}
}
