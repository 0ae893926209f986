package main

import (
	"encoding/json"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/irismirror/iris-mirror-agent/gate"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// TestServeGatesStopLeaksNothing runs serve in-process with two gates and
// sessions through them (a burst of 300 that ended, so a gate's reclaim
// ran, and 10 still open), stops it as SIGTERM does, and checks that the
// gates refuse at once, cut their sessions at once (not after
// --shutdown-delay), that serve exits 0, and that no goroutine outlives
// it.
func TestServeGatesStopLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("os/signal.loop"))

	web, ss := freeAddr(t), freeAddr(t)
	m := simulator.NewMember("ap1a", web, ss, simulator.Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close() // before goleak looks
	webGate, ssGate := freeAddr(t), freeAddr(t)
	// The sessions must be cut at the stop, not when serve exits after
	// the delay: a delay far longer than a busy machine's reaction tells
	// the two apart.
	const shutdownDelay = 3 * time.Second
	a := serveInProcess(t, m, "--shutdown-delay", shutdownDelay.String(), "--gate", webGate+"="+web, "--gate", ssGate+"="+ss)
	waitFor(t, func() bool { name, _, err := simulator.Who(ssGate, time.Second); return err == nil && name == "ap1a" }, "the gate forwarding")

	session := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", ssGate, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("who\n")); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Read(make([]byte, 64)); n == 0 || err != nil {
			t.Fatalf("session: %v", err)
		}
		_ = c.SetDeadline(time.Time{})
		return c
	}
	var burst []net.Conn
	for range 300 {
		burst = append(burst, session())
	}
	for _, c := range burst {
		c.Close()
	}
	waitFor(t, func() bool {
		_, body := a.Get("/status")
		var st struct{ Gates []gate.Stats }
		_ = json.Unmarshal([]byte(body), &st)
		return len(st.Gates) == 2 && st.Gates[0].OpenSessions+st.Gates[1].OpenSessions == 0
	}, "the burst's sessions ended")
	time.Sleep(1200 * time.Millisecond) // the gate reclaims 1 s after a burst of 256+ sessions
	open := make([]net.Conn, 10)
	for i := range open {
		open[i] = session()
		defer open[i].Close()
	}

	t0 := time.Now()
	stopped := make(chan int, 1)
	go func() { stopped <- a.Stop() }() // as SIGTERM
	for _, c := range open {
		_ = c.SetReadDeadline(t0.Add(shutdownDelay))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeoutErr(err) {
			t.Fatalf("a session through the gate outlived the stop: %v", err)
		}
	}
	cut := time.Since(t0)
	_, err := net.DialTimeout("tcp", ssGate, time.Second)
	refused := errors.Is(err, syscall.ECONNREFUSED)
	code := <-stopped
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, a.Log.String())
	}
	if cut >= shutdownDelay || !refused {
		t.Errorf("sessions cut %v after the stop (--shutdown-delay %v), gate refusing during the delay: %v (%v)", cut, shutdownDelay, refused, err)
	}
	t.Logf("stop with gates: sessions cut %v after the signal, gates refusing during the %v delay, exit 0, no goroutine left", cut.Round(time.Millisecond), shutdownDelay)
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
