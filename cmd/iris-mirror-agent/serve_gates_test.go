package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

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
	webGate, ssGate := freeAddr(t), freeAddr(t)
	a := serveInProcess(t, m, "--agent-listen", "", "--shutdown-delay", "0s",
		"--gate", webGate+"="+web, "--gate", ssGate+"="+ss, "--gate-role", ssGate+"=standby")
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
	_, body := a.Get("/status")
	var st struct {
		Gates []struct {
			State    string `json:"state"`
			OpensOn  string `json:"opens_on"`
			Sessions uint64 `json:"sessions_total"`
		} `json:"gates"`
	}
	_ = json.Unmarshal([]byte(body), &st)
	if len(st.Gates) != 2 || st.Gates[0].State != "open" || st.Gates[0].Sessions == 0 ||
		st.Gates[1].State != "closed" || st.Gates[1].OpensOn != "standby" {
		t.Errorf("/status gates: %+v", st.Gates)
	}

	// A session's bytes are counted when its copy returns, just after the
	// client has its answer.
	waitFor(t, func() bool {
		c, metrics := a.Get("/metrics")
		return c == 200 && regexp.MustCompile(`(?m)^iris_mirror_agent_gate_connections_total [1-9]`).MatchString(metrics) &&
			regexp.MustCompile(`(?m)^iris_mirror_agent_gate_bytes_total\{direction="out"\} [1-9]`).MatchString(metrics)
	}, "the gate's traffic in /metrics")

	_ = m.SetState(simulator.Backup)
	waitFor(t, func() bool { return refused(webGate) }, "the web gate refusing after demotion")
	waitFor(t, func() bool { return !refused(ssGate) }, "the standby gate open")

	if code := a.Stop(); code != ExitOK {
		t.Fatalf("exit %d: %s", code, a.Log.String())
	}
	if !refused(ssGate) {
		t.Error("a gate still listens after the agent stopped")
	}
	for _, want := range []string{`"message":"gate open"`, `"message":"gate closed"`} {
		if !strings.Contains(a.Log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, a.Log.String())
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
