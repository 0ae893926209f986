package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// byHandPage is the walkthrough TestByHandWalkthrough runs.
const byHandPage = "docs/by-hand.md"

// expectLine is a command with the output it must print: CMD  # => TEXT.
var expectLine = regexp.MustCompile(`^(.*\S)\s+# => (.+)$`)

// byHandPatience bounds how long one `# => TEXT` line is retried: the
// state it waits for (an agent's first answer, a balancer's next check)
// comes within a second or two; a busy machine gets far more.
const byHandPatience = 60 * time.Second

// byHandPreamble runs before the page's commands: stop at the first
// failing command, and expect, which retries a command until a line of
// its output begins with the text given.
const byHandPreamble = `set -e
expect() {
  local want=$1 cmd out line deadline=$((SECONDS + %d))
  cmd=$(cat)
  while :; do
    out=$(eval "$cmd" 2>&1) || true
    while IFS= read -r line; do
      if [[ $line == "$want"* ]]; then printf '%%s\n' "$out"; return 0; fi
    done <<<"$out"
    if ((SECONDS > deadline)); then
      printf 'by-hand: %%s\n  printed: %%s\n  want a line beginning with: %%s\n' "$cmd" "$out" "$want" >&2
      exit 1
    fi
    sleep 0.2
  done
}
`

// byHandScript turns the page's sh blocks into one bash script, in order.
func byHandScript(page string) (string, int) {
	var b strings.Builder
	fmt.Fprintf(&b, byHandPreamble, int(byHandPatience/time.Second))
	in, blocks := false, 0
	for n, line := range strings.Split(page, "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in, blocks = true, blocks+1
			fmt.Fprintf(&b, "echo '## %s:%d'\n", byHandPage, n+1)
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in:
			if m := expectLine.FindStringSubmatch(line); m != nil {
				fmt.Fprintf(&b, "echo '+ %s'\nexpect '%s' <<'BY_HAND_CMD'\n%s\nBY_HAND_CMD\n",
					strings.ReplaceAll(m[1], "'", `'\''`), strings.ReplaceAll(m[2], "'", `'\''`), m[1])
				continue
			}
			b.WriteString(line + "\n")
		}
	}
	return b.String(), blocks
}

// TestByHandWalkthrough runs every command of docs/by-hand.md as written,
// in one shell, inside a network namespace of its own (so its fixed
// loopback addresses and ports meet nothing else on the machine), and
// checks each `# => TEXT` line prints what the page says.
func TestByHandWalkthrough(t *testing.T) {
	itest.RequireRoot(t, "network namespace")
	unshare := itest.RequireTool(t, "unshare")
	for _, tool := range []string{"ip", "haproxy", "nginx", "curl", "bash"} {
		itest.RequireTool(t, tool)
	}
	root := itest.Root(t)
	page, err := os.ReadFile(filepath.Join(root, byHandPage))
	if err != nil {
		t.Fatal(err)
	}
	script, blocks := byHandScript(string(page))
	if blocks < 5 || !strings.Contains(script, "expect '") {
		t.Fatalf("%s: %d sh blocks and no '# =>' lines: the walkthrough is gone", byHandPage, blocks)
	}
	path := filepath.Join(t.TempDir(), "by-hand.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	// The page builds the binaries: with CGO off, as itest.Binaries does,
	// the build cache already holds them when other tests ran first.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--net", "--fork", "--kill-child", "--",
		"bash", "-c", `ip link set lo up && exec bash "$0"`, path)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the page left running
	}
	if err != nil {
		t.Fatalf("%s, run as written: %v (%v)\n%s", byHandPage, err, ctx.Err(), out.String())
	}
	t.Logf("%s ran as written:\n%s", byHandPage, out.String())
}
