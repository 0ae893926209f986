// Package agent assembles a running member agent from its settings: the
// poll loop, the balancer-facing listeners (HTTP, haproxy agent-check, the
// gates), the operator's controls (maintenance, admin socket, hooks) and
// the metrics. `iris-mirror-agent serve` and the demo both run it, so the
// demo cannot drift from what operators run.
//
// The way from a probe to an answer is one direction: the monitor
// publishes a snapshot whose verdicts are decided once; readers answer
// from it, reading its lease; followers (gates) are woken by each
// publication and set themselves from the verdict and its lease.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/buildinfo"
	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/fence"
	"github.com/irismirror/iris-mirror-agent/gate"
	"github.com/irismirror/iris-mirror-agent/haproxy"
	"github.com/irismirror/iris-mirror-agent/hook"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/metrics"
	"github.com/irismirror/iris-mirror-agent/monitor"
)

// Options are what the agent takes besides its settings.
type Options struct {
	Logger zerolog.Logger
	// LogDropped counts log lines the log writer dropped (for /metrics);
	// nil means none are counted.
	LogDropped func() uint64
	// Hurry, when it receives or is closed, ends the shutdown delay early
	// (serve sends a second SIGTERM there).
	Hurry <-chan struct{}
}

// Agent is one member's agent, built and bound by New, run by Run.
type Agent struct {
	cfg  *config.Serve
	opts Options
	log  zerolog.Logger

	mon      *monitor.Monitor
	reg      *metrics.Registry // nil with --metrics=false
	hooks    *hook.Runner      // nil without --on-change
	maint    *maintenance
	gates    []*followedGate
	fence    *fence.Fence // nil without --fence
	http     *httpServer  // nil without --http-listen
	agent    *haproxy.AgentServer
	agentLn  net.Listener // nil without --agent-listen
	adminLn  net.Listener // nil without --admin-socket
	mirrorAt string       // the mirror_status target, display-safe
}

// ConfigError is a setting New could not use (a file that does not load,
// a URL that does not parse): the operator must change the settings.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New builds the agent and opens every port it serves, so a port in use
// or a bad file is one clear error before anything runs. The member is
// not routable until Run has a fresh answer (fail closed).
func New(cfg *config.Serve, opts Options) (_ *Agent, err error) {
	a := &Agent{cfg: cfg, opts: opts, log: opts.Logger}
	defer func() {
		if err != nil {
			a.closeListeners()
		}
	}()
	probers, err := buildProbers(cfg, a.log)
	if err != nil {
		return nil, &ConfigError{err}
	}
	a.mirrorAt = probers[0].Spec.Target
	mopts := monitor.Options{
		Member: cfg.Member, Interval: cfg.Interval, Timeout: cfg.Timeout,
		Checker:       checker.Config{Rise: cfg.Rise, Fall: cfg.Fall, Lease: cfg.AnswerLease()},
		Logger:        a.log,
		MinTriggerGap: cfg.PokeMinInterval,
	}
	if cfg.Metrics {
		a.reg = metrics.New(func() *checker.Snapshot { return a.mon.Snapshot() }, buildinfo.Get(), buildinfo.GoVersion())
		mopts.OnRound = a.reg.ObserveRound
	}
	a.mon = monitor.New(probers, mopts)
	if a.reg != nil {
		a.mon.Watch(a.reg.Watch)
	}
	if argv := cfg.OnChangeArgv(); len(argv) > 0 {
		a.hooks = &hook.Runner{Argv: argv, Timeout: cfg.OnChangeTimeout, Member: cfg.Member, Logger: a.log}
		if a.reg != nil {
			a.hooks.Count = a.reg.CountHook
		}
		a.mon.Watch(a.hooks.Watch)
	}
	// A drain file present at start applies before the first round can
	// make the member routable.
	a.maint = newMaintenance(cfg.DrainFile, a.mon, a.log)
	a.maint.checkFile()

	if err := a.listen(); err != nil {
		return nil, err
	}
	if a.gates, err = buildGates(cfg, a.reg, a.mon.Trigger, a.log); err != nil {
		return nil, err
	}
	a.agent = &haproxy.AgentServer{Snapshot: a.mon.Snapshot, Logger: a.log, SendWait: cfg.AgentSendWait}
	if a.reg != nil {
		a.agent.Counter = a.reg
	}
	if cfg.HTTPListen != "" {
		if err := a.http.setHandler(cfg, a.handler()); err != nil {
			return nil, &ConfigError{fmt.Errorf("--tls-cert-file: %w", err)}
		}
	}
	if a.fence, err = buildFence(cfg, a.log); err != nil {
		return nil, err
	}
	a.registerMetrics()
	a.registerFenceMetrics()
	return a, nil
}

// listen opens the HTTP, agent-check and admin ports.
func (a *Agent) listen() error {
	cfg := a.cfg
	if cfg.HTTPListen != "" {
		ln, err := net.Listen("tcp", cfg.HTTPListen)
		if err != nil {
			return fmt.Errorf("--http-listen %s: %v", cfg.HTTPListen, errors.Unwrap(err))
		}
		a.http = &httpServer{ln: ln, log: a.log}
	}
	if cfg.AgentListen != "" {
		ln, err := net.Listen("tcp", cfg.AgentListen)
		if err != nil {
			return fmt.Errorf("--agent-listen %s: %v", cfg.AgentListen, errors.Unwrap(err))
		}
		a.agentLn = ln
	}
	if cfg.AdminSocket != "" {
		ln, err := listenAdmin(cfg)
		if err != nil {
			return err
		}
		a.adminLn = ln
	}
	return nil
}

func (a *Agent) closeListeners() {
	if a.http != nil {
		a.http.ln.Close()
	}
	for _, ln := range []net.Listener{a.agentLn, a.adminLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// handler is the HTTP handler: the questions, /status and /metrics.
func (a *Agent) handler() *httpapi.Handler {
	h := &httpapi.Handler{Snapshot: a.mon.Snapshot, Info: httpapi.Info{
		Member: a.cfg.Member, Version: buildinfo.Get(), Interval: a.cfg.Interval, Timeout: a.cfg.Timeout,
		Lease: a.cfg.AnswerLease(), Rise: a.cfg.Rise, Fall: a.cfg.Fall,
	}, Live: a.live}
	if a.reg != nil {
		h.Extra = a.reg.Handler()
		h.Counter = a.reg
	}
	return h
}

// live is what /status shows beyond the snapshot: the loop's and the
// listeners' counters.
func (a *Agent) live() map[string]any {
	out := map[string]any{"loop": a.mon.Stats(), "agent_check": a.agent.Stats()}
	if len(a.gates) > 0 {
		gs := make([]gate.Stats, len(a.gates))
		for i, g := range a.gates {
			gs[i] = g.Stats()
		}
		out["gates"] = gs
	}
	if a.fence != nil {
		out["fence"] = a.fence.Stats()
	}
	return out
}

// Snapshot is the member's current snapshot.
func (a *Agent) Snapshot() *checker.Snapshot { return a.mon.Snapshot() }

// Watch registers w for every publication (see monitor.Watcher). Call
// before Run.
func (a *Agent) Watch(w monitor.Watcher) { a.mon.Watch(w) }

// HTTPAddr and AgentAddr are the bound addresses ("" when disabled).
func (a *Agent) HTTPAddr() string {
	if a.http == nil {
		return ""
	}
	return a.http.ln.Addr().String()
}

// AgentAddr is the agent-check port's bound address, "" when disabled.
func (a *Agent) AgentAddr() string {
	if a.agentLn == nil {
		return ""
	}
	return a.agentLn.Addr().String()
}

// Run serves until ctx is done, then shuts down: every question answers
// "shutting down" for the shutdown delay (so each balancer sees the member
// go before its ports close), or until Options.Hurry, and everything
// stops. It returns the first error of a part that failed.
func (a *Agent) Run(ctx context.Context) error {
	a.logStart()
	run, stop := context.WithCancel(context.Background())
	defer stop()
	var (
		wg   sync.WaitGroup
		once sync.Once
		err  error
	)
	fail := func(e error) {
		once.Do(func() { err = e })
		stop()
	}
	goRun := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e := f(run); e != nil && run.Err() == nil {
				fail(e)
			}
		}()
	}
	goRun(a.mon.Run)
	goRun(a.follow)
	for _, g := range a.gates {
		goRun(g.Run)
	}
	if a.fence != nil {
		goRun(a.fence.Run)
	}
	if a.hooks != nil {
		goRun(a.hooks.Run)
	}
	goRun(a.maint.watchFile)
	if a.adminLn != nil {
		goRun(a.serveAdmin)
	}
	if a.http != nil {
		goRun(a.http.serve)
	}
	if a.agentLn != nil {
		goRun(func(ctx context.Context) error {
			if err := a.agent.Serve(ctx, a.agentLn); err != nil {
				return fmt.Errorf("agent-check: %w", err)
			}
			return nil
		})
	}
	select {
	case <-ctx.Done():
		a.drain()
	case <-run.Done(): // a part failed
	}
	stop()
	wg.Wait()
	if a.adminLn != nil {
		a.adminLn.Close()
	}
	return err
}

// drain answers "shutting down" to every question for the shutdown delay.
func (a *Agent) drain() {
	a.mon.Drain()
	a.log.Info().Stringer("delay", a.cfg.ShutdownDelay).Msg("shutting down: answering down until the delay ends")
	if a.cfg.ShutdownDelay <= 0 {
		return
	}
	t := time.NewTimer(a.cfg.ShutdownDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-a.opts.Hurry:
		a.log.Info().Msg("second signal: stopping now")
	}
}

// follow sets every gate, and the fence, from each published snapshot:
// the verdict of the gate's question and the snapshot's lease. It only
// stores wishes; the gates and the fence act on their own goroutines.
func (a *Agent) follow(ctx context.Context) error {
	for {
		changed := a.mon.Changed()
		s := a.mon.Snapshot()
		for _, g := range a.gates {
			v := s.Verdict(g.question, s.At) // as decided; the gate holds the lease
			g.Set(v.OK, s.Expires, v.Reason)
		}
		followFence(a.fence, s)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// Reload reloads the HTTPS certificate (serve calls it on SIGHUP).
func (a *Agent) Reload() {
	if a.http == nil || a.http.tls == nil {
		a.log.Info().Msg("SIGHUP: nothing to reload (no --tls-cert-file)")
		return
	}
	a.http.reload()
}

func (a *Agent) logStart() {
	cfg := a.cfg
	ev := a.log.Info().Str("member", cfg.Member).Str("version", buildinfo.Get()).
		Str("mirror_status_url", a.mirrorAt).Str("superserver", cfg.SuperServer).
		Stringer("interval", cfg.Interval).Stringer("timeout", cfg.Timeout).Stringer("lease", cfg.AnswerLease()).
		Int("rise", cfg.Rise).Int("fall", cfg.Fall)
	if a.http != nil {
		ev = ev.Str("http", a.HTTPAddr()).Bool("https", a.http.tls != nil)
	}
	if a.agentLn != nil {
		ev = ev.Str("agent_check", a.AgentAddr())
	}
	ev.Msg("agent starting")
}
