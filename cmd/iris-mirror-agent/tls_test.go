package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/extcheck"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// startMember runs a simulated primary on free loopback ports.
func startMember(t *testing.T) *simulator.Member {
	t.Helper()
	m := simulator.NewMember("ap1a", freeAddr(t), freeAddr(t), simulator.Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// clientTLS trusts caFile, as a balancer checking over HTTPS would.
func clientTLS(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	conf, err := endpoint.ClientTLS(endpoint.TLSOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// TestServeHTTPSWithClientCertificates serves HTTPS with client
// certificate verification in-process and asks it with check, healthcheck
// and a plain TLS client.
func TestServeHTTPSWithClientCertificates(t *testing.T) {
	m := startMember(t)
	ca := itest.NewCA(t, "agent")
	cert, key := ca.Issue(t, "agent", "127.0.0.1")
	clientCA := itest.NewCA(t, "balancers")
	ccert, ckey := clientCA.Issue(t, "haproxy", "haproxy")
	strangerCert, strangerKey := itest.NewCA(t, "stranger").Issue(t, "stranger", "stranger")
	srv := serveInProcess(t, m, "--agent-listen", "", "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-client-ca-file", clientCA.File, "--shutdown-delay", "0s")
	httpAddr := srv.HTTPAddr
	ctx := context.Background()
	url := "https://" + httpAddr + "/primary"
	ok := []string{"check", "--url", url, "--ca-file", ca.File, "--client-cert-file", ccert, "--client-key-file", ckey, "--timeout", "2s"}
	waitFor(t, func() bool { c, _, _ := runCmd(t, ctx, nil, ok...); return c == ExitOK }, "check over HTTPS with a client certificate")

	cases := []struct {
		name string
		env  []string
		args []string
		code int
		out  string
	}{
		{"check, no client certificate", nil, []string{"check", "--url", url, "--ca-file", ca.File}, ExitFail, "FAIL"},
		{"check, certificate from another CA", nil, []string{"check", "--url", url, "--ca-file", ca.File, "--client-cert-file", strangerCert, "--client-key-file", strangerKey}, ExitFail, "FAIL"},
		{"check, server not trusted", nil, []string{"check", "--url", url, "--client-cert-file", ccert, "--client-key-file", ckey}, ExitFail, "certificate"},
		{"check, skip verify", nil, []string{"check", "--url", url, "--insecure-skip-verify", "--client-cert-file", ccert, "--client-key-file", ckey}, ExitOK, "OK"},
		{"check, plain http to https", nil, []string{"check", "--url", "http://" + httpAddr + "/primary"}, ExitFail, "FAIL"},
		{"healthcheck finds HTTPS and pins the agent's certificate", []string{"MIRROR_AGENT_HTTP_LISTEN=" + httpAddr, "MIRROR_AGENT_TLS_CERT_FILE=" + cert,
			"MIRROR_AGENT_HEALTHCHECK_CLIENT_CERT_FILE=" + ccert, "MIRROR_AGENT_HEALTHCHECK_CLIENT_KEY_FILE=" + ckey}, []string{"healthcheck"}, ExitOK, "healthy https://"},
		{"healthcheck pinned to another certificate", []string{"MIRROR_AGENT_HTTP_LISTEN=" + httpAddr, "MIRROR_AGENT_TLS_CERT_FILE=" + ccert,
			"MIRROR_AGENT_HEALTHCHECK_CLIENT_CERT_FILE=" + ccert, "MIRROR_AGENT_HEALTHCHECK_CLIENT_KEY_FILE=" + ckey}, []string{"healthcheck"}, ExitFail, "pinned"},
		{"healthcheck with a CA file", []string{"MIRROR_AGENT_HTTP_LISTEN=" + httpAddr, "MIRROR_AGENT_TLS_CERT_FILE=" + cert},
			[]string{"healthcheck", "--ca-file", ca.File, "--client-cert-file", ccert, "--client-key-file", ckey, "--endpoint", "primary"}, ExitOK, "healthy"},
		{"healthcheck without client certificate", []string{"MIRROR_AGENT_HTTP_LISTEN=" + httpAddr, "MIRROR_AGENT_TLS_CERT_FILE=" + cert}, []string{"healthcheck"}, ExitFail, "unhealthy"},
	}
	for _, c := range cases {
		// Not a timing test: a handshake with client certificates on a
		// busy machine may take longer than the default second.
		got, out, errOut := runCmd(t, ctx, c.env, append(c.args, "--timeout", "20s")...)
		if got != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%s: exit %d (want %d), stdout %q, stderr %q", c.name, got, c.code, out, errOut)
		}
	}
	// haproxy's external-check, configured for HTTPS by its file.
	_, port, _ := net.SplitHostPort(httpAddr)
	conf := filepath.Join(t.TempDir(), "external-check.conf")
	for want, extra := range map[int]string{
		ExitOK:   "ca_file = " + ca.File + "\ncert_file = " + ccert + "\nkey_file = " + ckey + "\n",
		ExitFail: "ca_file = " + ca.File + "\n", // no client certificate
	} {
		if err := os.WriteFile(conf, []byte("scheme = https\ntimeout = 10s\nport = "+port+"\n"+extra), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		inv := extcheck.Invocation{ProxyAddr: "NOT_USED", ProxyPort: "NOT_USED", ServerAddr: "127.0.0.1", ServerPort: "1972", ServerName: "ap1a"}
		if got := runExternalCheck(ctx, inv, conf, &out); got != want {
			t.Errorf("external-check over HTTPS (%q): exit %d, want %d: %s", extra, got, want, out.String())
		}
	}

	// A balancer's TLS client with a good certificate gets 200.
	tlsConf := clientTLS(t, ca.File)
	pair, err := tls.LoadX509KeyPair(ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf.Certificates = []tls.Certificate{pair}
	checks := &itest.BalancerChecks{HTTPAddr: httpAddr, TLS: tlsConf}
	checks.Start(2 * time.Second)
	time.Sleep(100 * time.Millisecond)
	checks.Stop()
	for _, s := range checks.HTTP() {
		if !s.OK || s.Err != nil {
			t.Fatalf("HTTPS check with a client certificate: %v %v", s.OK, s.Err)
		}
	}
	if code := srv.Stop(); code != ExitOK {
		t.Fatalf("serve exit %d", code)
	}
}
