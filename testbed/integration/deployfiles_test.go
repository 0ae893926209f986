package integration

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// Helpers shared by the tests that validate deployment files (Dockerfile,
// compose, Kubernetes, systemd) against the code: a setting, a subcommand
// or a file a deployment file names must exist.

// serveSettings returns serve's settings by env name and by flag name,
// from config.Settings: renaming a setting breaks the examples' tests.
func serveSettings(t *testing.T) (envs, flags map[string]bool) {
	t.Helper()
	settings, err := config.Settings(&config.Serve{})
	if err != nil {
		t.Fatal(err)
	}
	envs, flags = map[string]bool{}, map[string]bool{}
	for _, s := range settings {
		envs[s.Env], flags[s.Flag] = true, true
	}
	return envs, flags
}

// checkServeConfig checks that `iris-mirror-agent serve args...` with env
// names only real settings and would start: config.LoadServe accepts it.
func checkServeConfig(t *testing.T, where string, args []string, env map[string]string) {
	t.Helper()
	envs, _ := serveSettings(t)
	var environ []string
	for k, v := range env {
		if !strings.HasPrefix(k, config.Prefix) {
			continue
		}
		if !envs[k] {
			t.Errorf("%s: %s is not a setting of serve (see iris-mirror-agent serve --help)", where, k)
		}
		environ = append(environ, k+"="+v)
	}
	if _, err := config.LoadServe(args, environ, io.Discard); err != nil {
		t.Errorf("%s: serve would not start: %v", where, err)
	}
}

// requireCommand runs bin with args and --help: exit 0 proves the
// subcommand exists and every flag before --help is one it takes.
func requireCommand(t *testing.T, where, bin string, args []string) {
	t.Helper()
	out, err := exec.Command(bin, append(append([]string(nil), args...), "--help")...).CombinedOutput()
	if err != nil {
		t.Errorf("%s: %s %s is not a command the binary takes: %v\n%s", where, filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// binaryFor maps an image's binary path (/iris-mirror-agent, /irissim) to
// the one the tests built.
func binaryFor(t *testing.T, path string) string {
	t.Helper()
	agent, sim := itest.Binaries(t)
	switch filepath.Base(path) {
	case "iris-mirror-agent":
		return agent
	case "iris-mirror-check":
		return itest.CheckBinary(t)
	case "irissim":
		return sim
	}
	t.Fatalf("%s is none of iris-mirror-agent, iris-mirror-check, irissim", path)
	return ""
}

// dockerStage is one FROM ... AS name block of a Dockerfile.
type dockerStage struct {
	name, from string
	instr      [][2]string // instruction (upper case), rest of the line
}

// parseDockerfile reads a Dockerfile: comments dropped, continuation lines
// joined, one stage per FROM.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		word, rest, _ := strings.Cut(line, " ")
		word, rest = strings.ToUpper(word), strings.TrimSpace(rest)
		if word == "FROM" {
			f := strings.Fields(rest)
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			return // ARG before the first FROM
		}
		stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, [2]string{word, rest})
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func (s dockerStage) get(word string) []string {
	var out []string
	for _, in := range s.instr {
		if in[0] == word {
			out = append(out, in[1])
		}
	}
	return out
}

// execForm parses an exec-form (JSON array) instruction argument.
func execForm(t *testing.T, where, s string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil || len(v) == 0 {
		t.Errorf("%s: %q is not in exec form (a JSON array): images without a shell need it", where, s)
	}
	return v
}

func stageByName(stages []dockerStage, name string) (dockerStage, bool) {
	for _, s := range stages {
		if s.name == name {
			return s, true
		}
	}
	return dockerStage{}, false
}

var wordRE = func(w string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^0-9A-Za-z_])` + regexp.QuoteMeta(w) + `($|[^0-9A-Za-z_])`)
}
