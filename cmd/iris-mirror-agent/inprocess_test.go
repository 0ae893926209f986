package main

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/irismirror/iris-mirror-agent/simulator"
)

// startMember runs a simulated primary on free loopback ports and returns
// its web and SuperServer addresses.
func startMember(t *testing.T) (m *simulator.Member, web, ss string) {
	t.Helper()
	web, ss = freeAddr(t), freeAddr(t)
	m = simulator.NewMember("ap1a", web, ss, simulator.Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, web, ss
}

// serving is `iris-mirror-agent serve` running in-process.
type serving struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	code   int
	errOut bytes.Buffer // its log
}

// startServe runs serve with args; stop (or the test's end) stops it as
// SIGTERM does.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.code = run(ctx, append([]string{"serve"}, args...), nil, io.Discard, &s.errOut)
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// stop cancels serve's context (SIGTERM) and returns its exit code once it
// has returned.
func (s *serving) stop() int {
	s.cancel()
	s.wg.Wait()
	return s.code
}
