// Package hook runs an operator's program when the member's role changes
// (--on-change): to rewrite an nginx upstream, move a DNS name or a route,
// label a Kubernetes pod.
//
// The poll loop only records the change; one goroutine runs the program,
// one at a time, with a timeout, so a slow or hung hook never delays a
// probe or a balancer's answer. Changes that arrive while a hook runs are
// merged: the next run goes from the last state a hook was told about to
// the newest one.
package hook

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
	"github.com/irismirror/iris-mirror-agent/internal/capped"
	"github.com/irismirror/iris-mirror-agent/metrics"
)

// EnvPrefix starts every variable a hook is given.
const EnvPrefix = "IRIS_MIRROR_AGENT_"

// maxOutput bounds the hook output kept for the log.
const maxOutput = 4096

// State is what a hook is told about one side of a change.
type State struct {
	Role        string // primary, backup, async, transition, inactive, none, standby, down, unknown
	Routable    bool
	Maintenance bool
	Reason      string
	Since       time.Time
}

// StateOf reads a snapshot as a hook sees it: the mirror role from qlist
// when known (backup, async...), else the role from mirror_status.
func StateOf(s *checker.Snapshot) State {
	role := string(s.Role)
	if s.Role == checker.Standby && s.MirrorRole != probe.MirrorUnknown {
		role = string(s.MirrorRole)
	}
	return State{Role: role, Routable: s.Routable, Maintenance: s.Maintenance, Reason: s.Reason, Since: s.Since}
}

func (a State) same(b State) bool {
	return a.Role == b.Role && a.Routable == b.Routable && a.Maintenance == b.Maintenance
}

// Runner runs the hook program. Watch is a monitor watcher; Run is the
// goroutine that executes.
type Runner struct {
	Argv    []string // program and arguments (no shell)
	Timeout time.Duration
	Member  string
	Logger  zerolog.Logger
	// Count, if set, is told how each run ended.
	Count func(metrics.HookResult)

	mu      sync.Mutex
	told    *State // the last state a hook run was given (nil: none yet)
	pending *State // newest state not yet given to a hook
	wake    chan struct{}
	once    sync.Once
}

func (r *Runner) init() { r.once.Do(func() { r.wake = make(chan struct{}, 1) }) }

// Watch records a change from prev to next; it never blocks.
func (r *Runner) Watch(prev, next *checker.Snapshot) {
	r.init()
	if prev == nil {
		return
	}
	p, n := StateOf(prev), StateOf(next)
	if p.same(n) {
		return
	}
	r.mu.Lock()
	if r.told == nil && r.pending == nil {
		r.told = &p
	}
	r.pending = &n
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run executes hooks until ctx is done; a hook still running then is
// killed.
func (r *Runner) Run(ctx context.Context) error {
	r.init()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		}
		r.mu.Lock()
		prev, next := r.told, r.pending
		r.pending = nil
		if next != nil {
			r.told = next
		}
		r.mu.Unlock()
		if next == nil || prev == nil || prev.same(*next) {
			continue // flapped back before a hook could run: nothing to tell
		}
		r.run(ctx, *prev, *next)
	}
}

// Env is the environment a hook gets on top of the agent's own.
func (r *Runner) Env(prev, next State) []string {
	return []string{
		EnvPrefix + "MEMBER=" + r.Member,
		EnvPrefix + "PREVIOUS_ROLE=" + prev.Role,
		EnvPrefix + "ROLE=" + next.Role,
		EnvPrefix + "PREVIOUS_ROUTABLE=" + strconv.FormatBool(prev.Routable),
		EnvPrefix + "ROUTABLE=" + strconv.FormatBool(next.Routable),
		EnvPrefix + "MAINTENANCE=" + strconv.FormatBool(next.Maintenance),
		EnvPrefix + "REASON=" + next.Reason,
		EnvPrefix + "SINCE=" + next.Since.UTC().Format(time.RFC3339Nano),
	}
}

func (r *Runner) run(ctx context.Context, prev, next State) {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Argv[0], r.Argv[1:]...)
	cmd.Env = append(os.Environ(), r.Env(prev, next)...)
	out := &capped.Buffer{Max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the hook's whole group (a shell script's children too).
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)

	result := metrics.HookOK
	ev := r.Logger.Info()
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		result, ev = metrics.HookTimeout, r.Logger.Warn().Stringer("timeout", r.Timeout)
	default:
		result, ev = metrics.HookFailed, r.Logger.Warn().Err(err)
	}
	if r.Count != nil {
		r.Count(result)
	}
	text := strings.TrimSpace(string(out.Bytes()))
	if out.Over {
		text += " [output cut]"
	}
	ev.Str("member", r.Member).Str("previous_role", prev.Role).Str("role", next.Role).
		Bool("routable", next.Routable).Str("reason", next.Reason).
		Float64("duration_ms", float64(took.Microseconds())/1000).Str("output", text).
		Msg("on-change hook " + [...]string{"ran", "failed", "timed out"}[result])
}
