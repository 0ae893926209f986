package admin

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func serve(t *testing.T, path string, perm os.FileMode, h Controls) {
	t.Helper()
	ln, err := Listen(path, perm)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, zerolog.Nop()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

func TestCommandsAndPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.sock")
	ctl := &fakeControls{}
	serve(t, path, 0o660, ctl)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o660 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want 0660 socket", st.Mode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if got, err := Send(ctx, path, Poke); err != nil || got != "ok: probe round started" || ctl.pokes != 1 {
		t.Fatalf("poke: %q %v (%d pokes)", got, err, ctl.pokes)
	}
	if got, _ := Send(ctx, path, "  MAINTENANCE   On "); got != "ok: maintenance on" || !ctl.maint {
		t.Fatalf("maintenance on: %q", got)
	}
	if got, _ := Send(ctx, path, Status); got != "ok: role primary mirror - routable false maintenance true: maintenance" {
		t.Fatalf("status: %q", got)
	}
	if got, _ := Send(ctx, path, "reboot"); !strings.HasPrefix(got, "error: unknown command") {
		t.Fatalf("unknown: %q", got)
	}
	// A line over the limit gets an error, not a hang.
	got, err := Send(ctx, path, Command(strings.Repeat("x", 1000)))
	if err != nil || !strings.HasPrefix(got, "error") {
		t.Errorf("long line: %q %v", got, err)
	}
	// A client that says nothing is cut within the deadline.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(4 * time.Second))
	buf := make([]byte, 64)
	start := time.Now()
	_, _ = c.Read(buf)
	if d := time.Since(start); d > 3500*time.Millisecond {
		t.Errorf("silent client held for %v", d)
	}
}

func TestListenRefusesWhatIsNotAStaleSocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file, 0o600); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Error("a regular file was replaced")
	}
	live := filepath.Join(dir, "live.sock")
	serve(t, live, 0o600, &fakeControls{})
	if _, err := Listen(live, 0o600); err == nil || !strings.Contains(err.Error(), "another agent") {
		t.Errorf("live socket: %v", err)
	}
	// A socket whose listener is gone (a killed agent) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(stale, 0o600)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln2.Close()
}

// fakeControls records what the socket asked for.
type fakeControls struct {
	mu    sync.Mutex
	pokes int
	maint bool
}

func (f *fakeControls) Poke()                        { f.mu.Lock(); f.pokes++; f.mu.Unlock() }
func (f *fakeControls) SetSocketMaintenance(on bool) { f.mu.Lock(); f.maint = on; f.mu.Unlock() }
func (f *fakeControls) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := State{Role: "primary", Routable: !f.maint, Maintenance: f.maint, Reason: "primary"}
	if f.maint {
		st.MaintenanceSource, st.Reason = "admin socket", "maintenance"
	}
	return st
}
