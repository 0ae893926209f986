package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// badValue is one invalid value for a setting, tried as a flag and as an
// environment variable.
type badValue struct {
	flag, value string
}

// TestBadConfiguration runs the real `run` with every setting set to an
// invalid value (as a flag and as an environment variable), with
// conflicting settings and with unusable files. Each must exit non-zero
// before listening (the agent's ports are held by the test: a listen
// attempt would exit 3, not 2) with one line on stderr naming the setting.
func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notPEM := file("not.pem", "hello\n")
	empty := file("empty.pem", "")
	missing := filepath.Join(dir, "missing.pem")
	ca := itest.NewCA(t, "bad")
	cert, key := ca.Issue(t, "agent", "127.0.0.1")
	_, otherKey := ca.Issue(t, "other", "127.0.0.1")
	// Root reads through chmod 000, so an unreadable CA file is a
	// directory, an empty file, or a file without a certificate.
	unreadableCA := []string{dir, notPEM, empty, missing, key, "/dev/zero"}

	busyHTTP, busyAgent := holdPort(t), holdPort(t)

	serveBad := []badValue{
		{"member", "a b"}, {"member", strings.Repeat("m", 65)}, {"member", "x#y"},
		{"mirror-status-url", "127.0.0.1:52773/csp"}, {"mirror-status-url", "ftp://h/"}, {"mirror-status-url", "http://:1/"}, {"mirror-status-url", "http://h:0/"},
		{"insecure-skip-verify", "maybe"},
		{"superserver", "1972"}, {"superserver", ":1972"}, {"superserver", "h:70000"},
		{"http-listen", "9797"}, {"http-listen", ":http-alt"},
		{"agent-listen", ":x"}, {"agent-listen", "127.0.0.1"},
		{"interval", "soon"}, {"interval", "0s"}, {"interval", "-1s"}, {"interval", "1ms"},
		{"timeout", "x"}, {"timeout", "0s"}, {"timeout", "2m"},
		{"lease", "x"}, {"lease", "-1s"}, {"lease", "10ms"}, {"lease", "11m"}, {"agent-send-wait", "x"}, {"agent-send-wait", "-1ms"}, {"agent-send-wait", "11s"},
		{"rise", "x"}, {"rise", "0"}, {"rise", "101"},
		{"fall", "many"}, {"fall", "0"}, {"fall", "-3"},
		{"shutdown-delay", "x"}, {"shutdown-delay", "-1s"}, {"shutdown-delay", "6m"},
		{"log-level", "loud"}, {"log-format", "xml"},
		// Operations.
		{"qlist-instance", "a b"}, {"qlist-instance", "x/y"},
		{"metrics", "maybe"},
		{"drain-file", missing + "/drain"},
		{"admin-socket", missing + "/admin.sock"}, {"admin-socket", dir + "/" + strings.Repeat("s", 120)},
		{"admin-socket-mode", "0666"}, {"admin-socket-mode", "0604"}, {"admin-socket-mode", "rw"},
		{"poke-min-interval", "1ms"}, {"poke-min-interval", "2m"}, {"poke-min-interval", "x"},
		{"on-change", "/nonexistent/hook --flag"},
		{"on-change-timeout", "0s"}, {"on-change-timeout", "11m"},
		// Gates.
		{"gate", "nonsense"}, {"gate", ":0=127.0.0.1:52773"}, {"gate", ":52774=52773"}, {"gate", ":52774=127.0.0.1:52774"},
		{"gate", "127.0.0.1:52774=localhost:52774"}, {"gate", "[::ffff:127.0.0.1]:52774=127.0.0.1:52774"},
		{"gate", ":52774="}, {"gate", ":70000=127.0.0.1:52773"}, {"gate", ":52774=127.0.0.1:0"},
		{"gate-role", ":52774=standby"}, {"gate-role", "standby"}, {"gate-role", "=standby"},
		{"gate-drain", "-1s"}, {"gate-drain", "2h"}, {"gate-drain", "x"},
		{"gate-connect-timeout", "0s"}, {"gate-connect-timeout", "2m"}, {"gate-connect-timeout", "x"}, {"gate-connect-timeout", "-1s"},
		{"gate-max-sessions", "0"}, {"gate-max-sessions", "x"}, {"gate-max-sessions", "2000000"}, {"gate-max-sessions", "-1"},
		// Fence.
		{"fence", "0"}, {"fence", "70000"}, {"fence", "x"}, {"fence", "-1"}, {"fence", "1972,1972"},
		{"fence-allow", "10.0.0.0/8"}, // without --fence
		{"fence-allow", "10.0.0.0/8,10.1.0.0/16"}, {"fence-allow", "0.0.0.0/0"}, {"fence-allow", "::/0"},
		{"fence-allow", "10.0.0.1/8"}, {"fence-allow", "::ffff:10.0.0.0/104"}, {"fence-allow", "nonsense"}, {"fence-allow", "10.0.0.0/33"},
		{"fence-drain", "-1s"}, {"fence-drain", "2h"}, {"fence-drain", "x"},
	}
	for _, p := range unreadableCA {
		serveBad = append(serveBad, badValue{"ca-file", p})
	}
	type tc struct {
		name string
		args []string
		env  []string
		want string // the setting the one line must name
		code int
	}
	var cases []tc
	for _, b := range serveBad {
		cases = append(cases,
			tc{"serve flag " + b.flag + "=" + b.value, []string{"--" + b.flag + "=" + b.value}, nil, "--" + b.flag, ExitUsage},
			tc{"serve env " + b.flag + "=" + b.value, nil, []string{envOf(b.flag) + "=" + b.value}, envOf(b.flag), ExitUsage})
	}
	tlsOK := []string{"--tls-cert-file", cert, "--tls-key-file", key}
	cases = append(cases,
		// Conflicts.
		tc{"same port twice", []string{"--agent-listen", busyHTTP}, nil, "--agent-listen", ExitUsage},
		tc{"same port, all interfaces", []string{"--http-listen", ":" + portOf(busyHTTP), "--agent-listen", "127.0.0.1:" + portOf(busyHTTP)}, nil, "--agent-listen", ExitUsage},
		tc{"same port twice, env", nil, []string{"MIRROR_AGENT_AGENT_LISTEN=" + busyHTTP}, "--agent-listen", ExitUsage},
		tc{"nothing to serve", []string{"--http-listen", "", "--agent-listen", ""}, nil, "--http-listen", ExitUsage},
		tc{"tls without http", append([]string{"--http-listen", ""}, tlsOK...), nil, "--tls-cert-file", ExitUsage},
		// Certificates.
		tc{"tls cert without key", []string{"--tls-cert-file", cert}, nil, "--tls-key-file", ExitUsage},
		tc{"tls key without cert", []string{"--tls-key-file", key}, nil, "--tls-cert-file", ExitUsage},
		tc{"tls cert missing", []string{"--tls-cert-file", missing, "--tls-key-file", key}, nil, "--tls-cert-file", ExitUsage},
		tc{"tls cert not PEM", []string{"--tls-cert-file", notPEM, "--tls-key-file", key}, nil, "--tls-cert-file", ExitUsage},
		tc{"tls cert is a directory", []string{"--tls-cert-file", dir, "--tls-key-file", key}, nil, "--tls-cert-file", ExitUsage},
		tc{"tls cert is a key", []string{"--tls-cert-file", key, "--tls-key-file", key}, nil, "--tls-cert-file", ExitUsage},
		tc{"tls key missing", []string{"--tls-cert-file", cert, "--tls-key-file", missing}, nil, "--tls-key-file", ExitUsage},
		tc{"tls key of another cert", []string{"--tls-cert-file", cert, "--tls-key-file", otherKey}, nil, "--tls-key-file", ExitUsage},
		tc{"tls key is a device", []string{"--tls-cert-file", cert, "--tls-key-file", "/dev/zero"}, nil, "--tls-key-file", ExitUsage},
		tc{"tls cert env missing", nil, []string{"MIRROR_AGENT_TLS_CERT_FILE=" + missing, "MIRROR_AGENT_TLS_KEY_FILE=" + key}, "--tls-cert-file", ExitUsage},
		tc{"client CA without tls", []string{"--tls-client-ca-file", ca.File}, nil, "--tls-client-ca-file", ExitUsage},
		tc{"gate on the HTTP port", []string{"--gate", busyHTTP + "=127.0.0.1:52773"}, nil, "--gate", ExitUsage},
		tc{"gate on the agent-check port", []string{"--gate", busyAgent + "=127.0.0.1:52773"}, nil, "--gate", ExitUsage},
		tc{"two gates on one port", []string{"--gate", ":52774=127.0.0.1:52773", "--gate", ":52774=127.0.0.1:1972"}, nil, "--gate", ExitUsage},
		tc{"gate role not primary or standby", []string{"--gate", ":52774=127.0.0.1:52773", "--gate-role", ":52774=boss"}, nil, "--gate-role", ExitUsage},
		tc{"gate on the HTTP port, env", nil, []string{"MIRROR_AGENT_GATES=" + busyHTTP + "=127.0.0.1:52773"}, "MIRROR_AGENT_GATES", ExitUsage},
		tc{"gate on the agent-check port, all interfaces", []string{"--gate", ":" + portOf(busyAgent) + "=127.0.0.1:52773"}, nil, "--gate", ExitUsage},
		tc{"two gates on one port, spelled differently", []string{"--gate", ":52774=127.0.0.1:52773", "--gate", "localhost:52774=127.0.0.1:1972"}, nil, "--gate", ExitUsage},
		tc{"two gates on one port, env", nil, []string{"MIRROR_AGENT_GATES=:52774=127.0.0.1:52773,127.0.0.1:52774=127.0.0.1:1972"}, "MIRROR_AGENT_GATES", ExitUsage},
		tc{"gates forwarding to each other", []string{"--gate", ":52774=127.0.0.1:52775", "--gate", ":52775=127.0.0.1:52774"}, nil, "--gate", ExitUsage},
		tc{"gate forwarding to another gate", []string{"--gate", "127.0.0.1:52774=127.0.0.1:1973", "--gate", ":1973=127.0.0.1:1972"}, nil, "--gate", ExitUsage},
		tc{"gate role twice", []string{"--gate", ":52774=127.0.0.1:52773", "--gate-role", ":52774=standby", "--gate-role", ":52774=primary"}, nil, "--gate-role", ExitUsage},
		tc{"gate role for a gate spelled differently", []string{"--gate", "127.0.0.1:52774=127.0.0.1:52773", "--gate-role", ":52774=standby"}, nil, "--gate-role", ExitUsage},
		tc{"gate role for an unknown gate, env", []string{"--gate", ":52774=127.0.0.1:52773"}, []string{"MIRROR_AGENT_GATE_ROLES=:52775=standby"}, "MIRROR_AGENT_GATE_ROLES", ExitUsage},
		tc{"fence on the HTTP port", []string{"--fence", portOf(busyHTTP)}, nil, "--fence", ExitUsage},
		tc{"fence on the agent-check port", []string{"--fence", "1972," + portOf(busyAgent)}, nil, "--fence", ExitUsage},
		tc{"fence on a gate's port", []string{"--gate", ":52774=127.0.0.1:52773", "--fence", "52774"}, nil, "--fence", ExitUsage},
		tc{"fence allow lists overlapping", []string{"--fence", "1972", "--fence-allow", "fd00::/8,fd00:1::/32"}, nil, "--fence-allow", ExitUsage},
		tc{"fence allow list twice the same", []string{"--fence", "1972", "--fence-allow", "10.1.2.3", "--fence-allow", "10.1.2.3/32"}, nil, "--fence-allow", ExitUsage},
		tc{"fence allow lists overlapping, env", []string{"--fence", "1972"}, []string{"MIRROR_AGENT_FENCE_ALLOW=10.0.0.0/8,10.9.0.0/16"}, "MIRROR_AGENT_FENCE_ALLOW", ExitUsage},
		tc{"iris-bin missing", []string{"--qlist-instance", "IRIS", "--iris-bin", "/nonexistent/iris"}, nil, "--iris-bin", ExitUsage},
		tc{"iris-bin empty", []string{"--qlist-instance", "IRIS", "--iris-bin", ""}, nil, "--iris-bin", ExitUsage},
		tc{"iris-bin missing, env", nil, []string{"MIRROR_AGENT_QLIST_INSTANCE=IRIS", "MIRROR_AGENT_IRIS_BIN=/nonexistent/iris"}, "--iris-bin", ExitUsage},
	)
	for _, p := range unreadableCA {
		cases = append(cases, tc{"client CA " + filepath.Base(p), append(slices.Clone(tlsOK), "--tls-client-ca-file", p), nil, "--tls-client-ca-file", ExitUsage})
	}
	// check and healthcheck: usage errors exit 2 and 1 (Docker reserves 2).
	for _, b := range []badValue{{"url", "nope"}, {"url", "ftp://h/"}, {"timeout", "0s"}, {"timeout", "2m"}, {"direct", "maybe"},
		{"mirror-status-url", "h:1/x"}, {"superserver", "h"}, {"ca-file", dir}, {"ca-file", notPEM}, {"insecure-skip-verify", "x"},
		{"client-cert-file", missing}, {"client-key-file", key}} {
		cases = append(cases, tc{"check " + b.flag + "=" + b.value, []string{"check", "--" + b.flag + "=" + b.value}, nil, "--" + b.flag, ExitUsage})
	}
	cases = append(cases,
		tc{"check client key of another cert", []string{"check", "--client-cert-file", cert, "--client-key-file", otherKey}, nil, "--client-key-file", ExitUsage},
		tc{"check extra argument", []string{"check", "extra"}, nil, "unexpected argument", ExitUsage},
		tc{"check unknown flag", []string{"check", "--nope"}, nil, "unknown flag", ExitUsage})
	for _, b := range []badValue{{"endpoint", "standby"}, {"url", "nope"}, {"timeout", "x"}, {"timeout", "0s"},
		{"ca-file", dir}, {"ca-file", empty}, {"client-cert-file", notPEM}, {"client-key-file", key}} {
		cases = append(cases, tc{"healthcheck " + b.flag + "=" + b.value, []string{"healthcheck", "--" + b.flag + "=" + b.value}, nil, "--" + b.flag, ExitFail})
	}
	cases = append(cases,
		tc{"healthcheck no fixed port", []string{"healthcheck"}, []string{"MIRROR_AGENT_HTTP_LISTEN=:0"}, "MIRROR_AGENT_HTTP_LISTEN", ExitFail},
		tc{"healthcheck serve cert unusable", []string{"healthcheck"}, []string{"MIRROR_AGENT_TLS_CERT_FILE=" + notPEM}, "MIRROR_AGENT_TLS_CERT_FILE", ExitFail})

	// Every serve setting has at least one bad value in the table.
	settings, err := config.Settings(&config.Serve{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		covered := false
		for _, c := range cases {
			covered = covered || c.want == "--"+s.Flag || c.want == s.Env
		}
		if !covered {
			t.Errorf("setting --%s has no bad-value case: add one", s.Flag)
		}
	}

	for _, c := range cases {
		args := c.args
		if len(args) == 0 || (args[0] != "check" && args[0] != "healthcheck") {
			args = serveArgs(c.args, c.env, busyHTTP, busyAgent)
		}
		start := time.Now()
		code, out, errOut := runCmd(t, context.Background(), c.env, args...)
		took := time.Since(start)
		lines := strings.Count(errOut, "\n")
		if code != c.code || lines != 1 || !strings.HasSuffix(errOut, "\n") || !strings.Contains(errOut, c.want) || took > patience {
			t.Errorf("%s: exit %d (want %d) after %v, stderr %q (want one line naming %s), stdout %q", c.name, code, c.code, took, errOut, c.want, out)
		}
	}
	t.Logf("%d bad configurations, each rejected with one line naming the setting", len(cases))
}

// serveArgs completes a serve command line: both listeners on ports the
// test holds (unless the case sets them), the case's flags last.
func serveArgs(caseArgs, env []string, busyHTTP, busyAgent string) []string {
	set := func(flag string) bool {
		for _, a := range caseArgs {
			if a == "--"+flag || strings.HasPrefix(a, "--"+flag+"=") {
				return true
			}
		}
		for _, e := range env {
			if strings.HasPrefix(e, envOf(flag)+"=") {
				return true
			}
		}
		return false
	}
	args := []string{"serve"}
	for flag, val := range map[string]string{"http-listen": busyHTTP, "agent-listen": busyAgent, "superserver": "", "log-format": "json"} {
		if !set(flag) {
			args = append(args, "--"+flag+"="+val)
		}
	}
	return append(args, caseArgs...)
}

// envOf is the environment variable of a setting (of serve, check or
// healthcheck); a few differ from their flag (--gate: MIRROR_AGENT_GATES).
func envOf(flag string) string {
	for _, cfg := range []any{&config.Serve{}, &checkSettings{}, &healthcheckSettings{}} {
		settings, _ := config.Settings(cfg)
		for _, s := range settings {
			if s.Flag == flag {
				return s.Env
			}
		}
	}
	return config.Prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// holdPort listens on a loopback port for the test's duration.
func holdPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestFenceWithoutCapability: serve --fence without CAP_NET_ADMIN (root
// with the capability dropped from its bounding set, in a network
// namespace of the test's) exits 3 with one line naming --fence and the
// capability, and writes nothing to the namespace's firewall.
func TestFenceWithoutCapability(t *testing.T) {
	p := itest.RequireNetns(t)
	setpriv := itest.RequireTool(t, "setpriv")
	nft := itest.RequireTool(t, "nft")
	agent, _ := itest.Binaries(t)
	argv := p.Exec(p.Member, setpriv, "--bounding-set=-net_admin", "--inh-caps=-net_admin", "--",
		agent, "serve", "--fence", "1972", "--http-listen", "127.0.0.1:0", "--agent-listen", "", "--superserver", "", "--log-format", "json")
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitRuntime || strings.Count(stderr.String(), "\n") != 1 ||
		!strings.Contains(stderr.String(), "--fence: needs CAP_NET_ADMIN") {
		t.Fatalf("exit %v, stderr %q; want exit %d and one line naming --fence and CAP_NET_ADMIN", err, stderr.String(), ExitRuntime)
	}
	out, err := exec.Command("ip", "netns", "exec", p.Member, nft, "list", "ruleset").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("the namespace's ruleset after the failed start: %v\n%s", err, out)
	}
}
