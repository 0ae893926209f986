package integration

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/extcheck"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// Every example configuration names, in one `# agent: iris-mirror-agent
// serve ...` header line, the flags each member's agent must run with.
// These tests hold each header to its file: the balancer configurations
// use exactly the ports the flags open, and the deployment files (compose,
// Kubernetes, systemd) configure exactly what their header says.

// agentHeader is an example's header line, parsed as serve parses flags.
type agentHeader struct {
	args  []string
	cfg   *config.Serve
	named map[string]bool // flags the line sets
}

func readAgentHeader(t *testing.T, path string) agentHeader {
	t.Helper()
	args := itest.AgentLine(t, path)
	cfg := &config.Serve{}
	_, named, err := config.LoadFlags(cfg, "iris-mirror-agent serve", "", args, nil, io.Discard)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("%s: the # agent: line would not start serve: %v", path, err)
	}
	return agentHeader{args: args, cfg: cfg, named: named}
}

// port returns the port of a [host]:port, or "".
func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}

// primaryGates maps each primary gate's listen port to its target.
func primaryGates(t *testing.T, cfg *config.Serve) map[string]string {
	t.Helper()
	specs, err := cfg.GateSpecs()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range specs {
		if s.Role == config.GateRolePrimary {
			out[port(s.Listen)] = s.Target
		}
	}
	return out
}

func exampleFiles(t *testing.T, patterns ...string) []string {
	t.Helper()
	var files []string
	for _, p := range patterns {
		m, _ := filepath.Glob(filepath.Join(itest.Root(t), "examples", p))
		for _, f := range m {
			// Overlays (the fence's compose override and Kubernetes patch)
			// change a base file's agent; their own tests check the result
			// merged onto the base, header included.
			if !strings.HasSuffix(f, ".override.yml") && !strings.HasSuffix(f, "-patch.yaml") {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		t.Fatalf("no example matches %v", patterns)
	}
	return files
}

// haproxyEnvDefault is haproxy's "${NAME-default}": what haproxy reads with
// the variable unset.
var haproxyEnvDefault = regexp.MustCompile(`"?\$\{[A-Z0-9_]+-([^}]*)\}([^"\s]*)"?`)

func expandHAProxyDefaults(s string) string { return haproxyEnvDefault.ReplaceAllString(s, "$1$2") }

// configLines returns a configuration's lines without comments.
func configLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// portUse collects the ports a balancer configuration relies on and checks
// each against the header, and each port the header opens against the use.
type portUse struct {
	t      *testing.T
	where  string
	h      agentHeader
	used   map[string]bool // header flags whose port the config uses
	gates  map[string]string
	direct string // --superserver's port when the header names it
}

func newPortUse(t *testing.T, path string) *portUse {
	h := readAgentHeader(t, path)
	u := &portUse{t: t, where: filepath.Base(path), h: h, used: map[string]bool{}, gates: primaryGates(t, h.cfg)}
	if h.named["superserver"] {
		u.direct = port(h.cfg.SuperServer)
	}
	return u
}

// check is a port the configuration sends checks to, for flag.
func (u *portUse) check(flag, p, what string) {
	want := ""
	switch flag {
	case "http-listen":
		want = port(u.h.cfg.HTTPListen)
	case "agent-listen":
		want = port(u.h.cfg.AgentListen)
	}
	if !u.h.named[flag] || p != want {
		u.t.Errorf("%s: %s goes to port %s, but the # agent: line opens --%s %q", u.where, what, p, flag, want)
	}
	u.used[flag] = true
}

// server is a port client traffic goes to: a primary gate, or the
// SuperServer itself in a direct configuration.
func (u *portUse) server(p, what string) {
	switch {
	case u.gates[p] != "":
		u.used["gate:"+p] = true
	case u.direct != "" && p == u.direct:
		u.used["superserver"] = true
	default:
		u.t.Errorf("%s: %s sends clients to port %s: no primary gate (--gate :%s=...) nor --superserver in the # agent: line", u.where, what, p, p)
	}
}

// done reports header flags the configuration never uses.
func (u *portUse) done() {
	for _, f := range []string{"http-listen", "agent-listen", "superserver"} {
		if u.h.named[f] && !u.used[f] {
			u.t.Errorf("%s: the # agent: line names --%s, which the configuration never uses", u.where, f)
		}
	}
	for p := range u.gates {
		if !u.used["gate:"+p] {
			u.t.Errorf("%s: the # agent: line opens a gate on :%s, which the configuration never uses", u.where, p)
		}
	}
}

func TestExampleAgentLineHAProxy(t *testing.T) {
	for _, f := range exampleFiles(t, "haproxy/*.cfg") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			u := newPortUse(t, f)
			for _, l := range configLines(t, f) {
				w := strings.Fields(expandHAProxyDefaults(l))
				switch w[0] {
				case "option":
					if len(w) > 1 && w[1] == "external-check" {
						// The command asks <server_addr>:<its default port>.
						u.check("http-listen", strconv.Itoa(extcheck.DefaultConfig().Port), "the external check")
					}
				case "server", "default-server":
					if w[0] == "server" && len(w) > 2 {
						u.server(port(w[2]), "server "+w[1])
					}
					if i := slices.Index(w, "port"); i > 0 && i+1 < len(w) && slices.Contains(w, "check") {
						u.check("http-listen", w[i+1], "the regular check")
					}
					if i := slices.Index(w, "agent-port"); i > 0 && i+1 < len(w) {
						u.check("agent-listen", w[i+1], "the agent-check")
					}
				}
			}
			u.done()
		})
	}
}

var nginxUpstreamServer = regexp.MustCompile(`^server\s+(\S+)`)

func TestExampleAgentLineNginx(t *testing.T) {
	for _, f := range exampleFiles(t, "nginx/*.conf") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			u := newPortUse(t, f)
			inUpstream := false
			for _, l := range configLines(t, f) {
				switch {
				case strings.HasPrefix(l, "upstream "):
					inUpstream = true
				case l == "}":
					inUpstream = false
				case inUpstream:
					if m := nginxUpstreamServer.FindStringSubmatch(l); m != nil {
						u.server(port(strings.TrimSuffix(m[1], ";")), "upstream server "+m[1])
					}
				}
			}
			u.done()
		})
	}
}

// caddyPort finds the ports of a Caddyfile's upstreams and health checks,
// with its {$VAR:default} placeholders read as their defaults.
var (
	caddyUpstream = regexp.MustCompile(`^reverse_proxy\s+(.*?)\s*\{?$`)
	caddyDefault  = regexp.MustCompile(`\{\$[A-Z0-9_]+:([^}]*)\}`)
)

func TestExampleAgentLineCaddy(t *testing.T) {
	f := filepath.Join(itest.Root(t), "examples", "caddy", "Caddyfile")
	u := newPortUse(t, f)
	for _, l := range configLines(t, f) {
		l = caddyDefault.ReplaceAllString(l, "$1")
		w := strings.Fields(l)
		switch {
		case w[0] == "health_port" && len(w) == 2:
			u.check("http-listen", w[1], "the active health check")
		case caddyUpstream.MatchString(l):
			for _, up := range strings.Fields(caddyUpstream.FindStringSubmatch(l)[1]) {
				u.server(port(up), "upstream "+up)
			}
		}
	}
	u.done()
}

// sameFlags reports where have differs from want in the flags want's
// header names. Gates are compared as sets; with subset, have may run
// more gates than want names (a deployment serving several balancers).
func sameFlags(t *testing.T, have *config.Serve, want agentHeader, subset bool) []string {
	t.Helper()
	var diffs []string
	hv, wv := reflect.ValueOf(have).Elem(), reflect.ValueOf(want.cfg).Elem()
	for i := range hv.NumField() {
		name := hv.Type().Field(i).Tag.Get("flag")
		if !want.named[name] || name == "gate" || name == "gate-role" {
			continue
		}
		if !reflect.DeepEqual(hv.Field(i).Interface(), wv.Field(i).Interface()) {
			diffs = append(diffs, fmt.Sprintf("--%s is %v, the # agent: line says %v", name, hv.Field(i).Interface(), wv.Field(i).Interface()))
		}
	}
	hs, _ := have.GateSpecs()
	ws, _ := want.cfg.GateSpecs()
	for _, g := range ws {
		if !slices.Contains(hs, g) {
			diffs = append(diffs, fmt.Sprintf("no gate %s=%s (%s) as the # agent: line says", g.Listen, g.Target, g.Role))
		}
	}
	for _, g := range hs {
		if !subset && !slices.Contains(ws, g) {
			diffs = append(diffs, fmt.Sprintf("gate %s=%s (%s) is not in the # agent: line", g.Listen, g.Target, g.Role))
		}
	}
	return diffs
}

func loadServe(t *testing.T, where string, args []string, env map[string]string) *config.Serve {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.LoadServe(args, environ, io.Discard)
	if err != nil {
		t.Fatalf("%s: serve would not start: %v", where, err)
	}
	return cfg
}

func TestExampleAgentLineCompose(t *testing.T) {
	for _, f := range exampleFiles(t, "compose/*.yml") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h := readAgentHeader(t, f)
			services := readCompose(t, f)
			agents := 0
			for name, s := range services {
				if !strings.HasSuffix(name, "-agent") {
					continue
				}
				agents++
				args := s.Command
				if len(args) > 0 && args[0] == "serve" {
					args = args[1:]
				}
				cfg := loadServe(t, name, args, s.Environment)
				for _, d := range sameFlags(t, cfg, h, false) {
					t.Errorf("%s: %s", name, d)
				}
				// Each balancer the file runs finds the gates and ports its
				// own header asks for.
				for bal, bs := range services {
					for _, v := range bs.Volumes {
						src, _, _ := strings.Cut(v, ":")
						if !strings.Contains(src, "/haproxy/") && !strings.Contains(src, "/nginx/") {
							continue
						}
						for _, d := range sameFlags(t, cfg, readAgentHeader(t, filepath.Join(filepath.Dir(f), src)), true) {
							t.Errorf("%s for %s (%s): %s", name, bal, filepath.Base(src), d)
						}
					}
				}
			}
			if agents == 0 {
				t.Fatal("no agent services")
			}
		})
	}
}

func TestExampleAgentLineKubernetes(t *testing.T) {
	for _, f := range exampleFiles(t, "kubernetes/*.yaml") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h := readAgentHeader(t, f)
			agent := kubernetesAgent(t, f)
			env := map[string]string{}
			for _, e := range agent.Env {
				if e.ValueFrom == nil {
					env[e.Name] = e.Value
				}
			}
			cfg := loadServe(t, "agent sidecar", agent.Args[1:], env)
			for _, d := range sameFlags(t, cfg, h, false) {
				t.Error(d)
			}
		})
	}
}

func TestExampleAgentLineSystemd(t *testing.T) {
	dir := filepath.Join(itest.Root(t), "examples", "systemd")
	unit := parseUnit(t, filepath.Join(dir, "iris-mirror-agent.service"))
	exec0 := strings.Fields(unit["Service"]["ExecStart"][0])
	env := map[string]string{}
	for _, e := range unit["Service"]["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	for _, l := range configLines(t, filepath.Join(dir, "agent.env")) {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	cfg := loadServe(t, "the unit with agent.env", exec0[2:], env)
	for _, f := range []string{"iris-mirror-agent.service", "agent.env"} {
		for _, d := range sameFlags(t, cfg, readAgentHeader(t, filepath.Join(dir, f)), false) {
			t.Errorf("%s: %s", f, d)
		}
	}
}
