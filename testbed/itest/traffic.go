package itest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// Sampler sends one request every Every through a balancer and records who
// answered. Ask does one request and returns the member's name.
type Sampler struct {
	Every time.Duration
	Ask   func(ctx context.Context) (string, error)

	mu      sync.Mutex
	samples []Sample
	cancel  context.CancelFunc
	done    chan struct{}
}

// TCPAsk asks a TCP frontend in front of simulated SuperServers: send a
// line, read "<member> <state>".
func TCPAsk(addr string, timeout time.Duration) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		name, _, err := simulator.Who(addr, timeout)
		return name, err
	}
}

// Start begins sampling in the background, for at most max.
func (s *Sampler) Start(max time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), max)
	s.cancel = cancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.Every)
		defer t.Stop()
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			wg.Add(1)
			go func(at time.Time) { // concurrent: a hung request must not stop sampling
				defer wg.Done()
				name, err := s.Ask(ctx)
				s.mu.Lock()
				s.samples = append(s.samples, Sample{At: at, Took: time.Since(at), Member: name, Err: err})
				s.mu.Unlock()
			}(time.Now())
		}
	}()
}

// Stop ends sampling and returns the samples in start order.
func (s *Sampler) Stop() []Sample {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Sample(nil), s.samples...)
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Switch summarises samples around a role switch at t0.
type Switch struct {
	FirstNew time.Duration // t0 to the first request answered by the new primary
	LastOld  time.Duration // t0 to the last request answered by the old primary (<0: none after t0)
	Failed   int           // requests after t0 that got no answer
	Total    int           // requests after t0
	NewOK    bool          // the new primary answered at all
}

// Analyse measures a switch from oldName to newName at t0. A request
// counts at the time it started.
func Analyse(samples []Sample, t0 time.Time, oldName, newName string) Switch {
	sw := Switch{LastOld: -1}
	for _, s := range samples {
		if s.At.Before(t0) {
			continue
		}
		sw.Total++
		d := s.At.Sub(t0)
		switch {
		case s.Err != nil:
			sw.Failed++
		case s.Member == newName && !sw.NewOK:
			sw.NewOK, sw.FirstNew = true, d
		case s.Member == oldName:
			sw.LastOld = d
		}
	}
	return sw
}

func (s Switch) String() string {
	last := "none"
	if s.LastOld >= 0 {
		last = s.LastOld.Round(time.Millisecond).String()
	}
	first := "never"
	if s.NewOK {
		first = s.FirstNew.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("first on new primary %s, last on old primary %s, %d/%d failed", first, last, s.Failed, s.Total)
}
