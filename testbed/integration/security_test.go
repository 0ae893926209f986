package integration

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// servedCert returns the subject of the certificate the agent serves now.
func servedCert(t *testing.T, addr, caFile string) string {
	t.Helper()
	conf, err := endpoint.ClientTLS(endpoint.TLSOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	conf.ServerName, _, _ = net.SplitHostPort(addr)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return "error: " + err.Error()
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLSReloadOnSIGHUP replaces the agent binary's certificate files and
// sends SIGHUP: new handshakes get the new certificate without a restart;
// a broken file on SIGHUP keeps the certificate being served.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "tls", l.IP(1), "primary")
	ca := itest.NewCA(t, "agent")
	certA, keyA := ca.Issue(t, "agent-a", m.IP)
	certB, keyB := ca.Issue(t, "agent-b", m.IP)
	dir := t.TempDir()
	cert, key := dir+"/cert.pem", dir+"/key.pem"
	copyFile(t, certA, cert)
	copyFile(t, keyA, key)
	a := itest.StartAgent(t, m, "--tls-cert-file", cert, "--tls-key-file", key, "--interval", "100ms")
	addr := a.HTTPAddr()
	if got := servedCert(t, addr, ca.File); got != "agent-a" {
		t.Fatalf("served %q, want agent-a", got)
	}
	code, _ := httpsGet(t, "https://"+addr+"/primary", ca.File)
	if code != 200 && code != 503 {
		t.Fatalf("HTTPS /primary: %d", code)
	}

	copyFile(t, certB, cert)
	copyFile(t, keyB, key)
	if got := servedCert(t, addr, ca.File); got != "agent-a" {
		t.Fatalf("certificate changed before SIGHUP: %q", got)
	}
	t0 := time.Now()
	if err := a.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for servedCert(t, addr, ca.File) != "agent-b" {
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("still serving %q 5 s after SIGHUP", servedCert(t, addr, ca.File))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("SIGHUP: new certificate served %v after the signal", time.Since(t0).Round(time.Millisecond))

	if err := os.WriteFile(cert, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = a.Proc.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if got := servedCert(t, addr, ca.File); got != "agent-b" || a.Proc.Exited() {
		t.Fatalf("after a SIGHUP with a broken file: served %q, exited %v", got, a.Proc.Exited())
	}
	if log := itest.Tail(a.Proc.Log, 50); !strings.Contains(log, "certificate not reloaded") {
		t.Errorf("no error logged for the broken reload:\n%s", log)
	}

	// Without TLS, a SIGHUP is logged and changes nothing.
	m2 := itest.StartMember(t, "hup", l.IP(2), "primary")
	a2 := itest.StartAgent(t, m2)
	itest.WaitHTTP(t, "http://"+a2.HTTPAddr()+"/primary", 200, 5*time.Second)
	_ = a2.Proc.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if c, _, err := itest.HTTPGet("http://"+a2.HTTPAddr()+"/primary", time.Second); c != 200 || a2.Proc.Exited() {
		t.Fatalf("agent without TLS after SIGHUP: %d %v, exited %v", c, err, a2.Proc.Exited())
	}
}

func httpsGet(t *testing.T, url, caFile string) (int, string) {
	t.Helper()
	conf, err := endpoint.ClientTLS(endpoint.TLSOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	c := &httpClient{conf: conf}
	return c.get(t, url)
}

// TestNoCredentialsInStatusOrLogs gives the agent binary a mirror-status
// URL with a user, a password and a query token, drives it through
// answers and faults that produce every kind of reason, and searches
// /status and the whole log for them.
func TestNoCredentialsInStatusOrLogs(t *testing.T) {
	l := itest.NewLoopback(t)
	ip := l.IP(1)
	srv := itest.StartFaultServer(t, ip+":52773", nil)
	secretURL := "http://irisadmin:s3cretPass@" + ip + ":52773/csp/mirror_status.cxw?token=t0kenValue"
	p := startAgentAt(t, "creds", ip, secretURL, nil, "--interval", "50ms", "--timeout", "150ms", "--log-level", "debug")
	var statuses []string
	for _, f := range []itest.Fault{itest.Healthy, itest.HangAfterAccept, itest.ResetMidResponse, itest.WrongBody, itest.Redirect, itest.HugeBody, itest.Healthy} {
		srv.Set(f)
		time.Sleep(400 * time.Millisecond)
		_, body, err := itest.HTTPGet("http://"+ip+":9797/status", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, body)
	}
	srv.Close() // refused
	time.Sleep(300 * time.Millisecond)
	_, body, _ := itest.HTTPGet("http://"+ip+":9797/status", time.Second)
	statuses = append(statuses, body)
	_ = p.Signal(syscall.SIGTERM)
	p.Wait(5 * time.Second)
	logText, err := os.ReadFile(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Probes []struct{ Target string }
	}
	if err := json.Unmarshal([]byte(statuses[0]), &st); err != nil || len(st.Probes) == 0 || st.Probes[0].Target != "http://"+ip+":52773/csp/mirror_status.cxw" {
		t.Errorf("/status target %+v %v, want the URL without credentials and query", st, err)
	}
	all := strings.Join(statuses, "\n") + string(logText)
	for _, secret := range []string{"irisadmin", "s3cretPass", "t0kenValue", "token="} {
		if strings.Contains(all, secret) {
			t.Errorf("%q found in /status or the log", secret)
		}
	}
	if !strings.Contains(string(logText), "probe failing") {
		t.Errorf("the faults left no trace in the log:\n%s", logText)
	}
	t.Logf("searched %d /status documents and %d log lines", len(statuses), strings.Count(string(logText), "\n"))
}

// TestNoEndpointChangesState sends every method to every path (and
// control-sounding lines to the agent-check port) and checks that the
// agent's state and its probe rate are unchanged: nothing drains it,
// triggers a probe, or changes a setting over the network.
func TestNoEndpointChangesState(t *testing.T) {
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "state", l.IP(1), "primary")
	a := itest.StartAgent(t, m, "--interval", "500ms")
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 5*time.Second)
	before := stableStatus(t, a.HTTPAddr())
	probesBefore := mirrorRequests(t, m)
	t0 := time.Now()

	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "DRAIN"}
	paths := []string{"/", "/primary", "/standby", "/health", "/live", "/status", "/state", "/drain", "/undrain", "/trigger",
		"/probe", "/reload", "/shutdown", "/metrics", "/debug/pprof/", "/admin", "/config", "/status?role=standby", "/primary/../drain", "*"}
	bodies := []string{"", "drain", `{"role":"standby","draining":true}`}
	n := 0
	for _, method := range methods {
		for _, path := range paths {
			for _, body := range bodies {
				rawRequest(t, a.HTTPAddr(), fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, path, len(body), body))
				n++
			}
		}
	}
	for _, line := range []string{"drain\n", "maint\n", "down\n", "stopped\n", "ready\n", "weight 0\n", "set role standby\n", "trigger\n"} {
		if got, err := askAgentCheck(a.AgentAddr(), line); err != nil || !strings.HasPrefix(got, "down ready #unknown check") {
			t.Errorf("agent-check %q: %q %v", line, got, err)
		}
		n++
	}
	after := stableStatus(t, a.HTTPAddr())
	if before != after {
		t.Errorf("state changed by requests:\nbefore %s\nafter  %s", before, after)
	}
	// At one round per 500 ms, no request triggered an extra probe.
	elapsed := time.Since(t0)
	probes := mirrorRequests(t, m) - probesBefore
	if max := int(elapsed/(500*time.Millisecond)) + 2; probes > max {
		t.Errorf("%d probes in %v: requests triggered probes (want at most %d)", probes, elapsed, max)
	}
	if c, _, _ := itest.HTTPGet("http://"+a.HTTPAddr()+"/primary", time.Second); c != 200 {
		t.Errorf("/primary %d after the requests", c)
	}
	t.Logf("%d requests (%d methods x %d paths x %d bodies, and agent-check lines) left the state unchanged; %d probes in %v",
		n, len(methods), len(paths), len(bodies), probes, elapsed.Round(time.Millisecond))
}

// stableStatus is /status without what changes by itself (times, latency,
// the lease) or counts (the loop's rounds, the agent-check answers): what
// is left is the agent's state.
func stableStatus(t *testing.T, addr string) string {
	t.Helper()
	_, body, err := itest.HTTPGet("http://"+addr+"/status", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"since", "last_result", "expires", "loop", "agent_check"} {
		delete(st, k)
	}
	for _, p := range st["probes"].([]any) {
		delete(p.(map[string]any), "latency_ms")
		delete(p.(map[string]any), "at")
	}
	b, _ := json.Marshal(st)
	return string(b)
}

func mirrorRequests(t *testing.T, m *itest.Member) int {
	t.Helper()
	n, err := m.MirrorStatusRequests()
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// rawRequest sends req as is and reads the status line.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(c, req)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line
}

type httpClient struct{ conf *tls.Config }

func (c *httpClient) get(t *testing.T, url string) (int, string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: c.conf, Proxy: nil, DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
