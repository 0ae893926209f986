package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// userProvided are files a compose file mounts that the user supplies and
// git must never hold: each is listed in examples/compose/.gitignore.
var userProvided = map[string]bool{"iris.key": true}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   any               `yaml:"depends_on"`
	NetworkMode string            `yaml:"network_mode"`
	ReadOnly    bool              `yaml:"read_only"`
	User        string            `yaml:"user"`
	CapAdd      []string          `yaml:"cap_add"`
	CapDrop     []string          `yaml:"cap_drop"`
	SecurityOpt []string          `yaml:"security_opt"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// TestComposeFiles parses each compose file and checks that everything it
// names exists: services it depends on or shares a network with, files it
// mounts, Dockerfile targets it builds, subcommands its health checks and
// commands run, settings its agents read, ports its balancers listen on.
func TestComposeFiles(t *testing.T) {
	root := itest.Root(t)
	files := composeLayouts(t, root)
	if len(files) < 2 {
		t.Fatalf("want the IRIS and the irissim compose files, found %v", files)
	}
	ignored, _ := os.ReadFile(filepath.Join(root, "examples", "compose", ".gitignore"))
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			dir := filepath.Dir(f)
			svcs := readCompose(t, f)
			for _, m := range []string{"ap1a", "ap1b", "ap2a", "ap2b"} {
				if _, ok := svcs[m]; !ok {
					t.Errorf("no service %s: the reference layout has members ap1a, ap1b, ap2a, ap2b", m)
				}
				agent, ok := svcs[m+"-agent"]
				if !ok {
					t.Errorf("no agent beside %s", m)
					continue
				}
				if agent.NetworkMode != "service:"+m {
					t.Errorf("%s-agent: network_mode %q, want service:%s so 127.0.0.1 is the member", m, agent.NetworkMode, m)
				}
				if agent.Environment["MIRROR_AGENT_MEMBER"] != m {
					t.Errorf("%s-agent: MIRROR_AGENT_MEMBER %q", m, agent.Environment["MIRROR_AGENT_MEMBER"])
				}
			}
			for _, need := range []string{"haproxy", "nginx"} {
				if _, ok := svcs[need]; !ok {
					t.Errorf("no %s service", need)
				}
			}
			names := make([]string, 0, len(svcs))
			for name := range svcs {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				checkComposeService(t, root, dir, name, svcs[name], svcs, stages, string(ignored))
			}
		})
	}
}

func checkComposeService(t *testing.T, root, dir, name string, s composeService, all map[string]composeService, stages []dockerStage, ignored string) {
	t.Helper()
	where := name
	// What the service runs: an image we build (whose binary we know) or
	// a stock one.
	var stage *dockerStage
	switch b := s.Build.(type) {
	case nil:
		if s.Image == "" {
			t.Errorf("%s: neither image nor build", where)
		}
	case map[string]any:
		ctx, _ := b["context"].(string)
		df, _ := b["dockerfile"].(string)
		target, _ := b["target"].(string)
		if df == "" {
			df = "Dockerfile"
		}
		if p := filepath.Join(dir, ctx, df); !fileExists(p) || filepath.Clean(filepath.Join(dir, ctx)) != root {
			t.Errorf("%s: build context %q / %q is not this repository's Dockerfile", where, ctx, df)
		}
		st, ok := stageByName(stages, target)
		if !ok {
			t.Errorf("%s: build target %q is no stage of the Dockerfile", where, target)
		} else {
			stage = &st
		}
	default:
		t.Errorf("%s: build should be a map with context, dockerfile, target", where)
	}

	for _, dep := range dependsOn(s.DependsOn) {
		if _, ok := all[dep]; !ok {
			t.Errorf("%s: depends_on %q, no such service", where, dep)
		}
	}
	if mode, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
		if _, exists := all[mode]; !exists {
			t.Errorf("%s: network_mode service:%s, no such service", where, mode)
		}
		if len(s.Ports) > 0 {
			t.Errorf("%s: shares another service's network: publish ports there", where)
		}
	}

	// Mounted files exist in the repository, or are the user's own and
	// ignored by git. Their text is where a stock image's ports and
	// environment must show up.
	var mounted strings.Builder
	for _, v := range s.Volumes {
		src, rest, _ := strings.Cut(v, ":")
		dst, _, _ := strings.Cut(rest, ":")
		if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
			continue // a named volume
		}
		p := filepath.Join(dir, src)
		rel, _ := filepath.Rel(root, p)
		switch {
		case userProvided[filepath.Base(p)]:
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(filepath.Base(p)) + `$`).MatchString(ignored) {
				t.Errorf("%s: mounts the user's %s: examples/compose/.gitignore must list it", where, filepath.Base(p))
			}
		case !fileExists(p):
			t.Errorf("%s: mounts %s, which does not exist", where, rel)
		default:
			b, _ := os.ReadFile(p)
			mounted.Write(b)
			// A whole nginx.conf (it has the events block) replaces the
			// image's; conf.d only takes http-level snippets.
			if nginxMainConf.Match(b) && dst != "/etc/nginx/nginx.conf" {
				t.Errorf("%s: %s is a whole nginx.conf: mount it as /etc/nginx/nginx.conf, not %s", where, rel, dst)
			}
		}
	}

	for _, port := range s.Ports {
		parts := strings.Split(port, ":")
		cport := strings.TrimSuffix(parts[len(parts)-1], "/tcp")
		switch {
		case stage != nil:
			if !wordRE(cport).MatchString(strings.Join(stage.get("EXPOSE"), " ")) {
				t.Errorf("%s: publishes %s, which the image does not expose", where, cport)
			}
		case !wordRE(cport).MatchString(mounted.String()):
			t.Errorf("%s: publishes %s, which no mounted configuration listens on", where, cport)
		}
	}

	if stage != nil {
		bin := execForm(t, where, stage.get("ENTRYPOINT")[0])[0]
		cmd := s.Command
		if cmd == nil {
			cmd = execForm(t, where, stage.get("CMD")[0])
		}
		if filepath.Base(bin) == "iris-mirror-agent" && len(cmd) > 0 && cmd[0] == "serve" {
			checkServeConfig(t, where, cmd[1:], s.Environment)
		} else {
			requireCommand(t, where+" command", binaryFor(t, bin), cmd)
		}
		// The healthcheck runs a binary the image holds (the agent's
		// image: iris-mirror-check, its HEALTHCHECK's, is the cheap one).
		holds := map[string]bool{}
		for _, c := range stage.get("COPY") {
			if f := strings.Fields(c); len(f) > 0 {
				holds[f[len(f)-1]] = true
			}
		}
		if s.Healthcheck == nil {
			t.Errorf("%s: no healthcheck", where)
		} else if hc := s.Healthcheck.Test; len(hc) < 3 || hc[0] != "CMD" || !holds[hc[1]] {
			t.Errorf("%s: healthcheck %v should be [CMD <a binary of the image> subcommand...] (no shell in the image)", where, hc)
		} else {
			requireCommand(t, where+" healthcheck", binaryFor(t, hc[1]), hc[2:])
		}
		if !s.ReadOnly {
			t.Errorf("%s: our images write nothing: set read_only: true", where)
		}
	} else {
		for k := range s.Environment {
			if !strings.Contains(mounted.String(), "${"+k) {
				t.Errorf("%s: environment %s is used by no mounted configuration", where, k)
			}
		}
	}
}

func dependsOn(v any) []string {
	var out []string
	switch d := v.(type) {
	case []any:
		for _, x := range d {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	case map[string]any:
		for k := range d {
			out = append(out, k)
		}
	}
	return out
}

var nginxMainConf = regexp.MustCompile(`(?m)^events\s*\{`)

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// composeLayouts are the full compose files (not the override files that
// go on top of them).
func composeLayouts(t *testing.T, root string) []string {
	t.Helper()
	all, _ := filepath.Glob(filepath.Join(root, "examples", "compose", "*.yml"))
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".override.yml") {
			files = append(files, f)
		}
	}
	return files
}

func readCompose(t *testing.T, path string) map[string]composeService {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc.Services
}

// TestComposeFenceOverride merges the fence override onto each full
// compose file as compose does (maps merged, cap_add added, scalars
// replaced): every fenced agent shares its member's namespace, gains
// NET_ADMIN and nothing else, keeps no-new-privileges and a read-only
// file system, and its settings are real.
func TestComposeFenceOverride(t *testing.T) {
	root := itest.Root(t)
	override := readCompose(t, filepath.Join(root, "examples", "compose", "docker-compose.fence.override.yml"))
	if len(override) != 4 {
		t.Fatalf("the override fences %d services; want the four agents", len(override))
	}
	for _, f := range composeLayouts(t, root) {
		base := readCompose(t, f)
		for name, o := range override {
			where := filepath.Base(f) + " + override: " + name
			b, ok := base[name]
			if !ok {
				t.Errorf("%s: no such service in the base file", where)
				continue
			}
			if !strings.HasPrefix(b.NetworkMode, "service:") {
				t.Errorf("%s: the agent must share its member's network namespace to fence it", where)
			}
			if o.User != "0" || !slices.Equal(o.CapAdd, []string{"NET_ADMIN"}) || !slices.Equal(b.CapDrop, []string{"ALL"}) {
				t.Errorf("%s: user %q, cap_add %v over cap_drop %v; want root with NET_ADMIN alone (Docker gives added capabilities to root only)", where, o.User, o.CapAdd, b.CapDrop)
			}
			if !slices.Contains(b.SecurityOpt, "no-new-privileges:true") || !b.ReadOnly || o.ReadOnly {
				t.Errorf("%s: the base's no-new-privileges and read-only file system must stay", where)
			}
			env := map[string]string{}
			for k, v := range b.Environment {
				env[k] = v
			}
			for k, v := range o.Environment {
				env[k] = v
			}
			if env["MIRROR_AGENT_FENCE"] == "" {
				t.Errorf("%s: no MIRROR_AGENT_FENCE", where)
			}
			checkServeConfig(t, where, b.Command[1:], env)
		}
	}
}
