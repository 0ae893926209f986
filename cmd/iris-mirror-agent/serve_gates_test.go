package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/irismirror/iris-mirror-agent/simulator"
)

// syncBuffer is a bytes.Buffer several goroutines may write to, as they
// may to the process's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeGates runs serve in-process with a primary gate on the web
// port and a standby gate on the SuperServer port, and follows them
// through a demotion.
func TestServeGates(t *testing.T) {
	web, ss := freeAddr(t), freeAddr(t)
	m := simulator.NewMember("ap1a", web, ss, simulator.Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	httpAddr, webGate, ssGate := freeAddr(t), freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var code int
	var errOut syncBuffer // gates log from their own goroutines
	wg.Add(1)
	go func() {
		defer wg.Done()
		code = run(ctx, []string{"serve", "--member", "ap1a",
			"--mirror-status-url", "http://" + web + "/csp/mirror_status.cxw", "--superserver", ss,
			"--http-listen", httpAddr, "--agent-listen", "",
			"--gate", webGate + "=" + web, "--gate", ssGate + "=" + ss, "--gate-role", ssGate + "=standby",
			"--interval", "50ms", "--timeout", "200ms", "--shutdown-delay", "0s", "--log-format", "json"},
			nil, io.Discard, &errOut)
	}()
	throughGate := func() (string, error) {
		c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
		resp, err := c.Get("http://" + webGate + "/csp/mirrorns/api/get")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var doc struct{ HostName string }
		err = json.NewDecoder(resp.Body).Decode(&doc)
		return doc.HostName, err
	}
	refused := func(addr string) bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	waitFor(t, func() bool { h, _ := throughGate(); return h == "ap1a" }, "the web gate forwarding to the primary")
	if !refused(ssGate) {
		t.Error("the standby gate must refuse while the member is primary")
	}
	resp, err := http.Get("http://" + httpAddr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Gates []struct {
			State    string `json:"state"`
			OpensOn  string `json:"opens_on"`
			Sessions uint64 `json:"sessions_total"`
		} `json:"gates"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if len(st.Gates) != 2 || st.Gates[0].State != "open" || st.Gates[0].Sessions == 0 ||
		st.Gates[1].State != "closed" || st.Gates[1].OpensOn != "standby" {
		t.Errorf("/status gates: %+v", st.Gates)
	}

	_ = m.SetState(simulator.Backup)
	waitFor(t, func() bool { return refused(webGate) }, "the web gate refusing after demotion")
	waitFor(t, func() bool { return !refused(ssGate) }, "the standby gate open")

	cancel()
	wg.Wait()
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !refused(ssGate) {
		t.Error("a gate still listens after the agent stopped")
	}
	for _, want := range []string{`"message":"gate open"`, `"message":"gate closed"`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, errOut.String())
		}
	}
}

func TestServeGatePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, errOut := runCmd(t, context.Background(), nil, "serve", "--http-listen", freeAddr(t), "--agent-listen", "",
		"--gate", ln.Addr().String()+"=127.0.0.1:52773")
	if code != ExitRuntime || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "--gate "+ln.Addr().String()) ||
		!strings.Contains(errOut, "address already in use") {
		t.Fatalf("gate port in use: %d %q", code, errOut)
	}
	code, _, errOut = runCmd(t, context.Background(), nil, "serve", "--gate-role", ":52774=standby")
	if code != ExitUsage || !strings.Contains(errOut, "--gate-role") {
		t.Fatalf("unknown gate in --gate-role: %d %q", code, errOut)
	}
}
