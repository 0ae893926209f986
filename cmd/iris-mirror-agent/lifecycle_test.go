package main

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestServeDrainLeaksNothing runs serve in-process (HTTPS on, so the
// certificate reloader runs too) while balancers check both ports, stops
// it as SIGTERM does, and checks that every check after the signal fails,
// that it exits 0, and that no goroutine outlives it.
func TestServeDrainLeaksNothing(t *testing.T) {
	// os/signal starts one goroutine for the process's lifetime.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("os/signal.loop"))

	m := startMember(t)
	defer m.Close() // before goleak looks
	ca := itest.NewCA(t, "agent")
	cert, key := ca.Issue(t, "agent", "127.0.0.1")
	srv := serveInProcess(t, m, "--tls-cert-file", cert, "--tls-key-file", key, "--shutdown-delay", "400ms")
	httpAddr, agentAddr := srv.HTTPAddr, srv.AgentAddr
	tlsConf := clientTLS(t, ca.File)
	checks := &itest.BalancerChecks{HTTPAddr: httpAddr, AgentAddr: agentAddr, TLS: tlsConf}
	waitFor(t, func() bool {
		line, _ := readAgent(agentAddr, "primary\n")
		return line == "up ready 100%\n"
	}, "routable primary")
	checks.Start(10 * time.Second)
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	code := srv.Stop() // as SIGTERM
	stopped := time.Since(t0)
	checks.Stop()
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, srv.Log.String())
	}
	if stopped < 350*time.Millisecond {
		t.Errorf("stopped %v after the signal, before --shutdown-delay 400ms", stopped)
	}
	for name, samples := range map[string][]itest.CheckSample{"HTTPS": checks.HTTP(), "agent-check": checks.Agent()} {
		passedBefore, failedAfter := 0, 0
		for _, s := range samples {
			switch {
			case s.Err != nil && s.At.Before(t0.Add(300*time.Millisecond)):
				t.Fatalf("%s: no answer %v after the signal, during the delay: %v", name, s.At.Sub(t0), s.Err)
			case s.At.Before(t0) && s.OK:
				passedBefore++
			case s.At.After(t0.Add(10*time.Millisecond)) && s.OK:
				t.Fatalf("%s: a check passed %v after the signal", name, s.At.Sub(t0))
			case s.At.After(t0) && s.Err == nil:
				failedAfter++
			}
		}
		if passedBefore == 0 || failedAfter == 0 {
			t.Fatalf("%s: %d checks passed before the signal, %d answered 'down' after: want both", name, passedBefore, failedAfter)
		}
		t.Logf("%s: %d checks passed before the signal, %d failed during the delay", name, passedBefore, failedAfter)
	}
	if !strings.Contains(srv.Log.String(), "agent stopped") {
		t.Errorf("no 'agent stopped' log:\n%s", srv.Log.String())
	}
}
