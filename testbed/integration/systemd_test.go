package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// parseUnit reads a systemd unit: section -> key -> values (a key may
// repeat).
func parseUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			unit[section][strings.TrimSpace(k)] = append(unit[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return unit
}

// TestSystemdUnit checks the unit's key options always, and has systemd
// itself verify the unit and rate its sandbox where systemd-analyze is
// installed (it is not installed for this test: systemd is heavy).
func TestSystemdUnit(t *testing.T) {
	dir := filepath.Join(itest.Root(t), "examples", "systemd")
	unitPath := filepath.Join(dir, "iris-mirror-agent.service")
	unit := parseUnit(t, unitPath)
	svc := unit["Service"]
	want := map[string]string{
		"Type": "exec", "Restart": "always", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes", "DynamicUser": "yes",
		"CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"MemoryDenyWriteExecute": "yes", "SystemCallFilter": "@system-service",
	}
	for k, v := range want {
		if got := svc[k]; len(got) == 0 || got[0] != v {
			t.Errorf("[Service] %s=%v, want %q", k, got, v)
		}
	}
	if u := svc["User"]; len(u) > 0 && (u[0] == "root" || u[0] == "0") {
		t.Error("the agent must not run as root")
	}
	if len(unit["Install"]["WantedBy"]) == 0 {
		t.Error("[Install] WantedBy missing: systemctl enable would do nothing")
	}
	// The stop timeout leaves room for serve's shutdown delay.
	if ts := svc["TimeoutStopSec"]; len(ts) == 0 || !strings.HasSuffix(ts[0], "s") {
		t.Error("TimeoutStopSec missing")
	}
	exec0 := strings.Fields(svc["ExecStart"][0])
	if len(exec0) < 2 || exec0[1] != "serve" {
		t.Fatalf("ExecStart %v should run serve", exec0)
	}
	agentBin, _ := itest.Binaries(t)
	requireCommand(t, "ExecStart", agentBin, exec0[1:])

	// The environment file: every name a real setting, and serve accepts it.
	env := map[string]string{}
	for _, e := range svc["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	b, err := os.ReadFile(filepath.Join(dir, "agent.env"))
	if err != nil {
		t.Fatal(err)
	}
	if ef := svc["EnvironmentFile"]; len(ef) == 0 || filepath.Base(strings.TrimPrefix(ef[0], "-")) != "agent.env" {
		t.Errorf("EnvironmentFile %v should be the shipped agent.env", ef)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			k, v, _ := strings.Cut(line, "=")
			env[k] = v
		}
	}
	checkServeConfig(t, "agent.env", exec0[2:], env)

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: the unit was checked by parsing only")
		return
	}
	// verify wants ExecStart's binary to exist: point it at the test build.
	text, _ := os.ReadFile(unitPath)
	local := filepath.Join(t.TempDir(), "iris-mirror-agent.service")
	if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(text), exec0[0], agentBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", local).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=yes", local).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Logf("systemd-analyze security --offline unavailable: %v", err)
		return
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f (0 best, 10 worst)", score)
	if score > 2.0 {
		t.Errorf("exposure %.1f: the sandbox weakened (was 1.2)", score)
	}
}

// TestSystemdFenceDropIn: the fence drop-in, merged onto the unit as
// systemd merges it, gives the agent CAP_NET_ADMIN and netlink and
// nothing more, and its settings are real.
func TestSystemdFenceDropIn(t *testing.T) {
	dir := filepath.Join(itest.Root(t), "examples", "systemd")
	svc := parseUnit(t, filepath.Join(dir, "iris-mirror-agent.service"))["Service"]
	dropIn := parseUnit(t, filepath.Join(dir, "fence.conf"))
	if len(dropIn) != 1 || dropIn["Service"] == nil {
		t.Fatalf("the drop-in should hold only [Service]: %v", dropIn)
	}
	// systemd: list settings (capabilities, address families) add up,
	// an empty assignment resets; single-valued ones, the last wins.
	merged := func(key string) []string {
		var out []string
		for _, v := range append(append([]string(nil), svc[key]...), dropIn["Service"][key]...) {
			if v == "" {
				out = nil
				continue
			}
			out = append(out, strings.Fields(v)...)
		}
		return out
	}
	last := func(key string) string {
		v := append(append([]string(nil), svc[key]...), dropIn["Service"][key]...)
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	if got := merged("CapabilityBoundingSet"); strings.Join(got, " ") != "CAP_NET_ADMIN" {
		t.Errorf("bounding set %v; want CAP_NET_ADMIN alone", got)
	}
	if got := merged("AmbientCapabilities"); strings.Join(got, " ") != "CAP_NET_ADMIN" {
		t.Errorf("ambient capabilities %v; want CAP_NET_ADMIN alone", got)
	}
	if got := merged("RestrictAddressFamilies"); !slices.Contains(got, "AF_NETLINK") || !slices.Contains(got, "AF_INET") {
		t.Errorf("address families %v; want AF_NETLINK added to the unit's", got)
	}
	if last("PrivateUsers") != "no" {
		t.Error("PrivateUsers must be off: in a private user namespace CAP_NET_ADMIN does not reach the host's firewall")
	}
	if last("DynamicUser") != "yes" || last("NoNewPrivileges") != "yes" {
		t.Error("the drop-in must keep the unit's unprivileged user")
	}
	env := map[string]string{}
	for _, e := range append(append([]string(nil), svc["Environment"]...), dropIn["Service"]["Environment"]...) {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	if env["MIRROR_AGENT_FENCE"] == "" {
		t.Fatal("the drop-in sets no MIRROR_AGENT_FENCE")
	}
	checkServeConfig(t, "fence.conf", nil, env)
}
