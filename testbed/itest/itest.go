// Package itest runs the real pieces for integration tests: the agent and
// simulator binaries built from this module, haproxy and nginx from the
// system, each process in its own group and stopped with the test.
//
// Everything listens on loopback addresses chosen per test (127.A.B.x), so
// members keep IRIS's default ports and tests do not collide.
package itest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// tool is a failure, never a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of an installed program. Under CI a missing
// program fails the test; elsewhere the test is skipped with the reason.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	if InCI() {
		t.Fatalf("%s is not installed: CI must install it (see .ci/run)", name)
	}
	t.Skipf("%s is not installed (apt-get install %s); skipped outside CI", name, name)
	return ""
}

// RequireRoot is for tests that need a mount or network namespace.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatalf("needs root (%s): CI runs as root", why)
	}
	t.Skipf("needs root (%s); skipped outside CI", why)
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0 && !st.IsDir()
}

// Root is the module's root directory.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds iris-mirror-agent, iris-mirror-check and irissim once
// per test process (CGO off: the same static build the Dockerfile ships),
// side by side as the image holds them.
func Binaries(t testing.TB) (agent, irissim string) {
	t.Helper()
	root := Root(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "iris-mirror-agent-itest-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"iris-mirror-agent", "iris-mirror-check", "irissim"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, pkg), "./cmd/"+pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "iris-mirror-agent"), filepath.Join(buildDir, "irissim")
}

// CheckBinary is the small external-check and healthcheck binary, built
// by Binaries next to iris-mirror-agent.
func CheckBinary(t testing.TB) string {
	t.Helper()
	agent, _ := Binaries(t)
	return filepath.Join(filepath.Dir(agent), "iris-mirror-check")
}

// Main runs a test package's tests and removes the built binaries after.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Loopback is a block of loopback addresses for one test: 127.A.B.1-254.
type Loopback struct{ prefix string }

// NewLoopback picks a block at random and checks that it is free.
func NewLoopback(t testing.TB) *Loopback {
	t.Helper()
	for range 50 {
		l := &Loopback{prefix: fmt.Sprintf("127.%d.%d.", 64+rand.IntN(190), 1+rand.IntN(250))}
		ln, err := net.Listen("tcp", l.IP(1)+":1972")
		if err == nil {
			ln.Close()
			return l
		}
	}
	t.Fatal("no free loopback block found")
	return nil
}

// IP returns the i-th address of the block.
func (l *Loopback) IP(i int) string { return fmt.Sprintf("%s%d", l.prefix, i) }

// Proc is a child process in its own process group, output to a log file.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // path of the combined stdout+stderr
	done chan struct{}
	err  error
}

// Start runs argv with extra environment; the process group is killed when
// the test ends, and its log is printed if the test failed.
func Start(t testing.TB, name string, env []string, argv ...string) *Proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("---- %s log (tail) ----\n%s", name, Tail(logPath, 40))
		}
	})
	return p
}

// Kill stops the whole process group at once and waits.
func (p *Proc) Kill() {
	if p.Cmd.Process != nil {
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
}

// Signal sends sig to the process (not the group).
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and returns its exit code
// (-1 if it did not exit in time).
func (p *Proc) Wait(d time.Duration) int {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitTCP waits until addr accepts a connection.
func WaitTCP(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept within %v: %v", addr, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// HTTPGet returns the status code and body of a GET, or an error.
func HTTPGet(url string, timeout time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), nil
}

// WaitHTTP waits until url answers code.
func WaitHTTP(t testing.TB, url string, code int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		c, body, err := HTTPGet(url, 500*time.Millisecond)
		if err == nil && c == code {
			return
		}
		last = fmt.Sprintf("%d %q %v", c, strings.TrimSpace(body), err)
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within %v; last: %s", url, code, d, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// HostsFile writes an /etc/hosts for names -> addresses.
func HostsFile(t testing.TB, hosts map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("127.0.0.1 localhost\n")
	for name, ip := range hosts {
		fmt.Fprintf(&b, "%s %s\n", ip, name)
	}
	p := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// WithHosts wraps argv so it runs in a private mount namespace where
// hostsFile is /etc/hosts. The example configurations name members as a
// deployment does (ap1a, ap1b, ...) and are used unchanged.
func WithHosts(t testing.TB, hostsFile string, argv ...string) []string {
	t.Helper()
	return WithFiles(t, map[string]string{"/etc/hosts": hostsFile}, argv...)
}

// Run runs argv to completion and returns its combined output and error.
func Run(argv []string, env []string, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ReadLine dials addr, sends line, and reads one reply line within d.
func ReadLine(addr, line string, d time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	if line != "" {
		if _, err := io.WriteString(c, line); err != nil {
			return "", err
		}
	}
	s, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return s, err
	}
	return strings.TrimRight(s, "\n"), nil
}
