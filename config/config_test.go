package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestServeDefaults(t *testing.T) {
	cfg, err := LoadServe(nil, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Interval != 125*time.Millisecond || cfg.Timeout != 525*time.Millisecond || cfg.Rise != 2 || cfg.Fall != 3 ||
		cfg.HTTPListen != ":9797" || cfg.AgentListen != ":9798" || cfg.SuperServer != "127.0.0.1:1972" ||
		cfg.MirrorStatusURL != "http://127.0.0.1:52773/csp/mirror_status.cxw" || cfg.Member == "" {
		t.Fatalf("defaults: %+v", cfg)
	}
	// A hung primary must be routed around within 1 s by a balancer that
	// checks every 250 ms (docs/tuning.md): the default lease, after which
	// the last answer is not believed, leaves it the 250 ms.
	if lease := cfg.AnswerLease(); lease > 750*time.Millisecond {
		t.Fatalf("default lease %v > 750ms", lease)
	}
}

func TestFlagsWinOverEnv(t *testing.T) {
	env := []string{"MIRROR_AGENT_INTERVAL=5s", "MIRROR_AGENT_FALL=7", "MIRROR_AGENT_MEMBER=fromenv"}
	cfg, err := LoadServe([]string{"--interval", "250ms"}, env, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Interval != 250*time.Millisecond || cfg.Fall != 7 || cfg.Member != "fromenv" {
		t.Fatalf("%+v", cfg)
	}
}

func TestHelpListsEnvAndDefaults(t *testing.T) {
	var out bytes.Buffer
	_, err := LoadServe([]string{"--help"}, nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v", err)
	}
	def, err := LoadServe(nil, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--interval duration", "MIRROR_AGENT_INTERVAL (default " + def.Interval.String() + ")", "--agent-listen", "MIRROR_AGENT_AGENT_LISTEN"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestBadServeSettings: every bad value is one line naming the setting.
func TestBadServeSettings(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--interval", "abc"}, nil, `invalid --interval "abc"`},
		{nil, []string{"MIRROR_AGENT_INTERVAL=abc"}, `invalid MIRROR_AGENT_INTERVAL="abc"`},
		{[]string{"--interval", "0s"}, nil, "--interval"},
		{[]string{"--interval", "-1s"}, nil, "--interval"},
		{[]string{"--timeout", "0s"}, nil, "--timeout"},
		{[]string{"--timeout", "2m"}, nil, "--timeout"},
		{[]string{"--rise", "0"}, nil, "--rise"},
		{[]string{"--rise", "x"}, nil, "--rise"},
		{nil, []string{"MIRROR_AGENT_FALL=many"}, "MIRROR_AGENT_FALL"},
		{[]string{"--fall", "0"}, nil, "--fall"},
		{[]string{"--mirror-status-url", "127.0.0.1:52773/csp"}, nil, "--mirror-status-url"},
		{[]string{"--mirror-status-url", "ftp://x/"}, nil, "--mirror-status-url"},
		{[]string{"--mirror-status-url", "http://:52773/"}, nil, "--mirror-status-url"},
		{[]string{"--superserver", "1972"}, nil, "--superserver"},
		{[]string{"--superserver", ":1972"}, nil, "--superserver"},
		{[]string{"--superserver", "h:99999"}, nil, "--superserver"},
		{[]string{"--http-listen", "9797"}, nil, "--http-listen"},
		{[]string{"--agent-listen", ":x"}, nil, "--agent-listen"},
		{[]string{"--agent-listen", ":9797"}, nil, "same address as --http-listen"},
		{[]string{"--http-listen", "", "--agent-listen", ""}, nil, "nothing would be served"},
		{[]string{"--ca-file", "/nonexistent/ca.pem"}, nil, "--ca-file"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{[]string{"--shutdown-delay", "-1s"}, nil, "--shutdown-delay"},
		{[]string{"--member", "a b"}, nil, "--member"},
		{nil, []string{"MIRROR_AGENT_INSECURE_SKIP_VERIFY=maybe"}, "MIRROR_AGENT_INSECURE_SKIP_VERIFY"},
		{[]string{"--nope"}, nil, "unknown flag"},
		{[]string{"extra"}, nil, "unexpected argument"},
	}
	for _, tc := range cases {
		expectBadServe(t, tc.args, tc.env, tc.want)
	}
}

func TestURLWithCredentialsRedactedInErrors(t *testing.T) {
	_, err := LoadServe([]string{"--mirror-status-url", "ftp://admin:s3cret@h/"}, nil, &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("%v", err)
	}
}

func TestSameListen(t *testing.T) {
	cases := []struct {
		a, b string
		same bool
	}{
		{":9797", ":9797", true},
		{":9797", "127.0.0.1:9797", true},
		{"127.0.0.1:9797", "127.0.0.2:9797", false},
		{"127.0.0.1:9797", "127.0.0.1:9798", false},
		{"[::]:9797", "127.0.0.1:9797", true},
		{"localhost:9797", "127.0.0.1:9797", true},
		{"[::1]:9797", "LOCALHOST:9797", true},
		{"localhost:9797", "127.0.0.2:9797", false},
		{"[::ffff:127.0.0.1]:9797", "127.0.0.1:9797", true},
		{"[::1]:9797", "127.0.0.1:9797", false},
		{":0", ":0", false},
		{"", ":9797", false},
	}
	for _, c := range cases {
		if got := SameListen(c.a, c.b); got != c.same {
			t.Errorf("%q %q: %v", c.a, c.b, got)
		}
	}
}

func TestListFlagReplacesEnv(t *testing.T) {
	type cfg struct {
		Items []string `env:"ITEMS" envSeparator:"," flag:"item" help:"x"`
	}
	c := &cfg{}
	if _, err := Load(c, "t", "", []string{"--item", "a", "--item", "b,c"}, []string{"MIRROR_AGENT_ITEMS=x,y"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Items, "|") != "a|b|c" {
		t.Fatalf("%q", c.Items)
	}
	c = &cfg{}
	_, _ = Load(c, "t", "", nil, []string{"MIRROR_AGENT_ITEMS=x,y"}, &bytes.Buffer{})
	if strings.Join(c.Items, "|") != "x|y" {
		t.Fatalf("env list %q", c.Items)
	}
}

func TestGateSettings(t *testing.T) {
	cfg, err := LoadServe([]string{
		"--gate", ":52774=127.0.0.1:52773", "--gate", "10.0.0.5:1973=127.0.0.1:1972,:52775=127.0.0.1:52773",
		"--gate-role", ":52775=standby", "--gate-drain", "5s",
	}, []string{"MIRROR_AGENT_GATES=:1=h:2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	specs, err := cfg.GateSpecs()
	if err != nil {
		t.Fatal(err)
	}
	want := []GateSpec{
		{":52774", "127.0.0.1:52773", GateRolePrimary},
		{"10.0.0.5:1973", "127.0.0.1:1972", GateRolePrimary},
		{":52775", "127.0.0.1:52773", GateRoleStandby},
	}
	if len(specs) != len(want) {
		t.Fatalf("specs %+v", specs)
	}
	for i := range want {
		if specs[i] != want[i] {
			t.Errorf("gate %d: %+v, want %+v", i, specs[i], want[i])
		}
	}
	if cfg.GateDrain != 5*time.Second || cfg.GateConnectTimeout != time.Second || cfg.GateMaxSessions != 4096 {
		t.Errorf("gate timing settings %+v", cfg)
	}
	cfg, err = LoadServe(nil, []string{"MIRROR_AGENT_GATES=:52774=127.0.0.1:52773, :1973=127.0.0.1:1972", "MIRROR_AGENT_GATE_ROLES=:1973=standby"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if specs, _ := cfg.GateSpecs(); len(specs) != 2 || specs[1].Role != GateRoleStandby {
		t.Fatalf("from env: %+v", specs)
	}
	if cfg, _ := LoadServe(nil, nil, &bytes.Buffer{}); len(cfg.Gates) != 0 {
		t.Fatalf("no gate by default: %q", cfg.Gates)
	}
}

func TestBadGateSettings(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--gate", "52774"}, nil, `invalid --gate "52774" (env MIRROR_AGENT_GATES): want LISTEN=TARGET`},
		{nil, []string{"MIRROR_AGENT_GATES=:52774"}, `invalid --gate ":52774" (env MIRROR_AGENT_GATES)`},
		{[]string{"--gate", ":52774="}, nil, "want LISTEN=TARGET"},
		{[]string{"--gate", "52774=127.0.0.1:52773"}, nil, "LISTEN: want [host]:port"},
		{[]string{"--gate", ":0=127.0.0.1:52773"}, nil, "fixed port"},
		{[]string{"--gate", ":99999=127.0.0.1:52773"}, nil, "LISTEN: bad port"},
		{[]string{"--gate", ":52774=:52773"}, nil, "TARGET: host is empty"},
		{[]string{"--gate", ":52774=127.0.0.1"}, nil, "TARGET: want host:port"},
		{[]string{"--gate", ":52774=127.0.0.1:0"}, nil, "TARGET: bad port"},
		{[]string{"--gate", ":52774=a:1", "--gate", "127.0.0.1:52774=b:1"}, nil, "listens where the gate :52774 does"},
		{[]string{"--gate", ":9797=a:1"}, nil, "listens where --http-listen does"},
		{[]string{"--gate", "127.0.0.1:9798=a:1"}, nil, "listens where --agent-listen does"},
		{[]string{"--gate", ":52773=127.0.0.1:52773"}, nil, "forwards to itself"},
		{[]string{"--gate", "127.0.0.1:52774=localhost:52774"}, nil, "forwards to itself"},
		{[]string{"--gate", "[::ffff:127.0.0.1]:52774=127.0.0.1:52774"}, nil, "forwards to itself"},
		{[]string{"--gate", ":52774=127.0.0.1:52775", "--gate", ":52775=127.0.0.1:52774"}, nil, "forwards to the gate :52775"},
		{[]string{"--gate", "127.0.0.1:52774=127.0.0.1:1973", "--gate", ":1973=127.0.0.1:1972"}, nil, "forwards to the gate :1973"},
		{[]string{"--gate", ":52774=127.0.0.1:52773", "--gate", "localhost:52774=127.0.0.1:1972"}, nil, "listens where the gate :52774 does"},
		{nil, []string{"MIRROR_AGENT_GATES=:9797=127.0.0.1:52773"}, "listens where --http-listen does"},
		{[]string{"--gate-connect-timeout", "2m"}, nil, "--gate-connect-timeout"},
		{[]string{"--gate-max-sessions", "1000001"}, nil, "--gate-max-sessions"},
		{[]string{"--gate-role", ":52774=standby"}, nil, `invalid --gate-role ":52774=standby" (env MIRROR_AGENT_GATE_ROLES): no --gate listens on ":52774"`},
		{[]string{"--gate", ":52774=a:1", "--gate-role", ":52774=replica"}, nil, "role must be primary or standby"},
		{[]string{"--gate", ":52774=a:1", "--gate-role", ":52774"}, nil, "want LISTEN=ROLE"},
		{[]string{"--gate", ":52774=a:1", "--gate-role", ":52774=standby", "--gate-role", ":52774=primary"}, nil, "given twice"},
		{[]string{"--gate-drain", "-1s"}, nil, "--gate-drain"},
		{[]string{"--gate-drain", "2h"}, nil, "--gate-drain"},
		{nil, []string{"MIRROR_AGENT_GATE_DRAIN=soon"}, "MIRROR_AGENT_GATE_DRAIN"},
		{[]string{"--gate-connect-timeout", "0s"}, nil, "--gate-connect-timeout"},
		{[]string{"--gate-max-sessions", "0"}, nil, "--gate-max-sessions"},
	}
	for _, tc := range cases {
		expectBadServe(t, tc.args, tc.env, tc.want)
	}
}

// expectBadServe wants serve's settings rejected in one line holding want.
func expectBadServe(t *testing.T, args, env []string, want string) {
	t.Helper()
	_, err := LoadServe(args, env, &bytes.Buffer{})
	if err == nil {
		t.Errorf("%v %v: accepted", args, env)
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("%v %v: %q, want one line containing %q", args, env, msg, want)
	}
}

func TestFlagsAfterPositionalArguments(t *testing.T) {
	type settings struct {
		Socket string `env:"ADMIN_SOCKET" flag:"admin-socket" help:"x"`
	}
	for _, tc := range []struct {
		args []string
		rest string
	}{
		{[]string{"on", "--admin-socket", "/run/a.sock"}, "on"},
		{[]string{"--admin-socket", "/run/a.sock", "on"}, "on"},
		{[]string{"--admin-socket=/run/a.sock", "on", "extra"}, "on extra"},
		{[]string{"--admin-socket", "/run/a.sock", "--", "-x", "--y"}, "-x --y"},
	} {
		var s settings
		rest, err := Load(&s, "t", "t", tc.args, nil, io.Discard)
		if err != nil || s.Socket != "/run/a.sock" || strings.Join(rest, " ") != tc.rest {
			t.Errorf("%q: socket %q rest %q err %v", tc.args, s.Socket, rest, err)
		}
	}
}
