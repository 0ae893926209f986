package monitor

import (
	"context"
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
		Checker: checker.Config{Rise: 1, Fall: 1, StaleAfter: 3 * interval},
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
					_ = m.Snapshot().Evaluate(checker.CheckPrimary)
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
	if maxInFlight.Load() != 1 {
		t.Fatalf("%d probes in flight at once, want 1", maxInFlight.Load())
	}
}

func TestStalledLoopBecomesUnknown(t *testing.T) {
	block := make(chan struct{})
	var first atomic.Bool
	m := New([]Prober{mirror(func(ctx context.Context) probe.Result {
		if first.CompareAndSwap(false, true) {
			return probe.Result{Outcome: probe.Primary, Reason: "ok"}
		}
		<-block // a probe that ignores its deadline
		return probe.Result{Outcome: probe.Primary, Reason: "late"}
	})}, opts(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.Run(ctx); close(done) }()
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Routable }, "primary")
	waitFor(t, 2*time.Second, func() bool { return m.Snapshot().Role == checker.Unknown }, "stale -> unknown")
	s := m.Snapshot()
	if s.Routable || s.Fresh || s.Evaluate(checker.CheckLive).OK {
		t.Fatalf("stale snapshot still routable or live: %+v", s)
	}
	cancel()
	close(block)
	<-done
}

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
