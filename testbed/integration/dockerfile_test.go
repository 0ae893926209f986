package integration

import (
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestDockerfile checks what can be checked without a Docker engine: the
// binaries are built exactly as the Dockerfile builds them and come out
// static; the final images are distroless or scratch and non-root; every
// ENTRYPOINT, CMD and HEALTHCHECK names a binary the image holds and a
// subcommand it has; EXPOSE matches the agent's default ports; the agent
// image's HEALTHCHECK, run from those builds laid out as in the image,
// says healthy, unhealthy and never 2 as it should (dockerHealthcheck).
func TestDockerfile(t *testing.T) {
	root := itest.Root(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	build, ok := stageByName(stages, "build")
	if !ok {
		t.Fatal("Dockerfile: no build stage")
	}
	if !strings.Contains(strings.Join(build.get("ENV"), " "), "CGO_ENABLED=0") {
		t.Error("the build stage must set CGO_ENABLED=0")
	}
	goMod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	goVersion := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(goMod)
	if b, _ := os.ReadFile(filepath.Join(root, "Dockerfile")); goVersion == nil || !strings.Contains(string(b), "ARG GO_VERSION="+string(goVersion[1])) {
		t.Errorf("Dockerfile's GO_VERSION should be go.mod's go version")
	}

	// The stages the images are made of, by the binary they run.
	want := map[string]string{"agent": "/iris-mirror-agent", "irissim": "/irissim"}
	built := map[string]string{} // build output -> its build line
	outDir := t.TempDir()        // the builds, by build output path
	for _, run := range build.get("RUN") {
		if !strings.HasPrefix(run, "go build") {
			continue
		}
		for _, need := range []string{"-trimpath", "-s -w", "-X github.com/irismirror/iris-mirror-agent/buildinfo.Version=${VERSION}"} {
			if !strings.Contains(run, need) {
				t.Errorf("build %q lacks %q", run, need)
			}
		}
		out := regexp.MustCompile(`-o (\S+) (\S+)$`).FindStringSubmatch(run)
		if out == nil {
			t.Fatalf("cannot read the output and package of %q", run)
		}
		built[out[1]] = run
		checkStaticBuild(t, root, run, filepath.Join(outDir, out[1]))
	}
	for stageName, bin := range want {
		st, ok := stageByName(stages, stageName)
		if !ok {
			t.Errorf("Dockerfile: no %s stage", stageName)
			continue
		}
		where := "Dockerfile stage " + stageName
		if !strings.HasPrefix(st.from, "gcr.io/distroless/static") && st.from != "scratch" {
			t.Errorf("%s: FROM %s, want distroless static or scratch", where, st.from)
		}
		users := st.get("USER")
		if len(users) == 0 || regexp.MustCompile(`^(0|root)(:|$)`).MatchString(users[len(users)-1]) {
			t.Errorf("%s: must run as a non-root USER, got %v", where, users)
		}
		// What the image holds: its path in the image -> the build output.
		holds := map[string]string{}
		for _, c := range st.get("COPY") {
			m := regexp.MustCompile(`^--from=build (\S+) (\S+)$`).FindStringSubmatch(c)
			if m == nil {
				continue
			}
			if built[m[1]] == "" {
				t.Errorf("%s: copies %s, which the build stage does not build", where, m[1])
			}
			holds[m[2]] = m[1]
		}
		if holds[bin] == "" {
			t.Errorf("%s: does not copy %s from the build stage", where, bin)
		}
		ep := st.get("ENTRYPOINT")
		if len(ep) != 1 {
			t.Fatalf("%s: want one ENTRYPOINT", where)
		}
		entry := execForm(t, where+" ENTRYPOINT", ep[0])
		if len(entry) != 1 || entry[0] != bin {
			t.Errorf("%s: ENTRYPOINT %v, want [%q]", where, entry, bin)
		}
		for _, cmd := range st.get("CMD") {
			requireCommand(t, where+" CMD", binaryFor(t, bin), execForm(t, where+" CMD", cmd))
		}
		hc := st.get("HEALTHCHECK")
		if len(hc) != 1 {
			t.Fatalf("%s: want one HEALTHCHECK", where)
		}
		_, cmd, ok := strings.Cut(hc[0], "CMD ")
		argv := execForm(t, where+" HEALTHCHECK", cmd)
		if !ok || len(argv) < 2 || holds[argv[0]] == "" {
			t.Fatalf("%s: HEALTHCHECK %q should run a binary the image holds, in exec form", where, hc[0])
		}
		requireCommand(t, where+" HEALTHCHECK", binaryFor(t, argv[0]), argv[1:])
		if stageName == "agent" {
			// The image's files, from the Dockerfile's own builds.
			image := t.TempDir()
			for dst, src := range holds {
				b, err := os.ReadFile(filepath.Join(outDir, src))
				if err != nil || os.WriteFile(filepath.Join(image, dst), b, 0o755) != nil {
					t.Fatalf("lay out %s: %v", dst, err)
				}
			}
			dockerHealthcheck(t, filepath.Join(image, argv[0]), argv[1:])
		}
	}

	// The agent image exposes the agent's default ports.
	agent, _ := stageByName(stages, "agent")
	exposed := strings.Fields(strings.Join(agent.get("EXPOSE"), " "))
	settings, err := config.Settings(&config.Serve{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if s.Flag != "http-listen" && s.Flag != "agent-listen" {
			continue
		}
		_, port, _ := net.SplitHostPort(s.Default)
		found := false
		for _, e := range exposed {
			found = found || e == port
		}
		if !found {
			t.Errorf("agent image: EXPOSE %v lacks --%s's default port %s", exposed, s.Flag, port)
		}
	}
	if stages[len(stages)-1].name != "agent" {
		t.Errorf("the agent must be the last stage (the default target), got %s", stages[len(stages)-1].name)
	}
}

// checkStaticBuild runs the Dockerfile's go build line here, with a test
// version and out as its output, and checks the binary is static and
// stamped.
func checkStaticBuild(t *testing.T, root, run, out string) {
	t.Helper()
	const version = "v0.0.0-dockerfile-test"
	line := strings.ReplaceAll(run, "${VERSION}", version)
	args := splitShellWords(t, line)
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: the binary has an ELF interpreter: it is dynamically linked", line)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: the binary needs shared libraries %v", line, libs)
	}
	if ldd, err := exec.LookPath("ldd"); err == nil {
		b, _ := exec.Command(ldd, out).CombinedOutput()
		if !strings.Contains(string(b), "not a dynamic executable") && !strings.Contains(string(b), "statically linked") {
			t.Errorf("ldd %s: %s", filepath.Base(out), b)
		}
	}
	if strings.Contains(line, "./cmd/iris-mirror-agent") || strings.Contains(line, "./cmd/iris-mirror-check") {
		b, err := exec.Command(out, "version").CombinedOutput()
		if err != nil || !strings.Contains(string(b), version) {
			t.Errorf("version of the Dockerfile build: %v %q, want %s", err, b, version)
		}
	}
}

// splitShellWords splits a command line on spaces, keeping "double
// quoted" words whole (enough for the Dockerfile's build lines).
func splitShellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, inWord = !inQuote, true
		case r == ' ' && !inQuote:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inQuote {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// dockerHealthcheck runs the agent image's HEALTHCHECK command (bin args,
// bin laid out as in the image) beside a real agent, as Docker would with
// the container's environment: healthy for a primary and for a backup
// (a healthy backup's container is healthy), healthy over TLS (settings
// iris-mirror-check hands to iris-mirror-agent), unhealthy with the agent
// gone; exit 0 or 1 only.
func dockerHealthcheck(t *testing.T, bin string, args []string) {
	t.Helper()
	l := itest.NewLoopback(t)
	run := func(env ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		return 0, string(out)
	}
	m := itest.StartMember(t, "ap1a", l.IP(1), "primary")
	a := itest.StartAgent(t, m, "--interval", "100ms", "--timeout", "500ms")
	listen := "MIRROR_AGENT_HTTP_LISTEN=" + a.HTTPAddr()
	// /live is 200 once the first probe round is in: within a few intervals.
	wait := func(what string, want int, env ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, out := run(env...)
			if code == want {
				return
			}
			if code != 0 && code != 1 {
				t.Errorf("HEALTHCHECK %s: exit %d (Docker reserves 2): %s", what, code, out)
			}
			if time.Now().After(deadline) {
				t.Fatalf("HEALTHCHECK %s: exit %d, want %d: %s", what, code, want, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wait("primary", 0, listen)
	m.Set(t, "backup")
	wait("backup", 0, listen)
	a.Proc.Kill()
	wait("agent gone", 1, listen)

	ca := itest.NewCA(t, "agent")
	cert, key := ca.Issue(t, "agent-tls", m.IP)
	itest.StartAgent(t, m, "--interval", "100ms", "--timeout", "500ms", "--tls-cert-file", cert, "--tls-key-file", key)
	wait("TLS agent (pinned)", 0, listen, "MIRROR_AGENT_TLS_CERT_FILE="+cert)
}
