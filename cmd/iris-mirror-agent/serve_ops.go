package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/admin"
	"github.com/irismirror/iris-mirror-agent/buildinfo"
	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/haproxy"
	"github.com/irismirror/iris-mirror-agent/hook"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/metrics"
	"github.com/irismirror/iris-mirror-agent/monitor"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// ops wires the operations features into serve: the qlist probe, metrics,
// maintenance (drain file and admin socket), the on-change hook and pokes.
type ops struct {
	cfg *config.Serve
	log zerolog.Logger
	mon *monitor.Monitor

	reg     *metrics.Registry // nil with --metrics=false
	hooks   *hook.Runner      // nil without --on-change
	adminLn net.Listener      // nil without --admin-socket

	maintMu     sync.Mutex
	maintFile   bool // the drain file exists
	maintSocket bool // maintenance on, from the admin socket
}

func newOps(cfg *config.Serve, log zerolog.Logger) *ops {
	o := &ops{cfg: cfg, log: log}
	if cfg.Metrics {
		o.reg = metrics.New(func() *checker.Snapshot { return o.mon.Snapshot() }, buildinfo.Get(), buildinfo.GoVersion())
	}
	if argv := cfg.OnChangeArgv(); len(argv) > 0 {
		o.hooks = &hook.Runner{Argv: argv, Timeout: cfg.OnChangeTimeout, Member: cfg.Member, Logger: log}
		if o.reg != nil {
			o.hooks.Count = o.reg.CountHook
		}
	}
	return o
}

// qlistProber is the iris qlist probe, when --qlist-instance is set.
func qlistProber(cfg *config.Serve) []monitor.Prober {
	if cfg.QListInstance == "" {
		return nil
	}
	t := probe.QListTarget{Bin: cfg.IrisBin, Instance: cfg.QListInstance}
	return []monitor.Prober{{
		Spec: checker.ProbeSpec{Name: probe.QListName, Target: cfg.IrisBin + " qlist " + cfg.QListInstance},
		Run:  func(ctx context.Context) probe.Result { return probe.RunQList(ctx, t) },
	}}
}

// monitorOptions adds the operations settings to the poll loop's options.
func (o *ops) monitorOptions(opts monitor.Options) monitor.Options {
	opts.MinTriggerGap = o.cfg.PokeMinInterval
	if o.reg != nil {
		opts.OnRound = o.reg.ObserveRound
	}
	return opts
}

// attach registers the watchers on mon and applies a drain file present
// at start, before the first round can make the member routable.
func (o *ops) attach(mon *monitor.Monitor) {
	o.mon = mon
	if o.reg != nil {
		mon.Watch(o.reg.Watch)
	}
	if o.hooks != nil {
		mon.Watch(o.hooks.Watch)
	}
	o.checkDrainFile()
}

// listen opens the admin socket with the other ports, so a bad path is an
// error at start.
func (o *ops) listen() error {
	if o.cfg.AdminSocket == "" {
		return nil
	}
	ln, err := admin.Listen(o.cfg.AdminSocket, o.cfg.AdminSocketPerm())
	if err != nil {
		return fmt.Errorf("--admin-socket %s: %w", o.cfg.AdminSocket, err)
	}
	o.adminLn = ln
	return nil
}

func (o *ops) close() {
	if o.adminLn != nil {
		o.adminLn.Close()
	}
}

// httpExtras returns what the HTTP handler serves beyond the checks.
func (o *ops) httpExtras(h *httpapi.Handler) {
	if o.reg != nil {
		h.Extra = o.reg.Handler()
		h.Counter = o.reg
	}
}

// agentExtras returns what the agent-check server counts with.
func (o *ops) agentExtras(as *haproxy.AgentServer) {
	if o.reg != nil {
		as.Counter = o.reg
	}
}

// start runs the hook runner, the drain-file watcher and the admin socket.
func (o *ops) start(g *group) {
	if o.hooks != nil {
		g.Go(o.hooks.Run)
	}
	if o.cfg.DrainFile != "" {
		g.Go(func(ctx context.Context) error {
			// A stat per interval, never per request: answers stay in memory.
			t := time.NewTicker(o.cfg.Interval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
					o.checkDrainFile()
				}
			}
		})
	}
	if o.adminLn != nil {
		g.Go(func(ctx context.Context) error {
			if err := admin.Serve(ctx, o.adminLn, o.command, o.log); err != nil {
				return fmt.Errorf("admin socket: %w", err)
			}
			return nil
		})
	}
}

// checkDrainFile puts the member in maintenance while the drain file
// exists. A stat error other than "does not exist" keeps the last state.
func (o *ops) checkDrainFile() {
	if o.cfg.DrainFile == "" {
		return
	}
	_, err := os.Stat(o.cfg.DrainFile)
	switch {
	case err == nil:
		o.setMaintenance(func() { o.maintFile = true })
	case errors.Is(err, os.ErrNotExist):
		o.setMaintenance(func() { o.maintFile = false })
	default:
		o.log.Warn().Err(err).Str("drain_file", o.cfg.DrainFile).Msg("cannot check the drain file: maintenance unchanged")
	}
}

func (o *ops) setMaintenance(change func()) {
	o.maintMu.Lock()
	defer o.maintMu.Unlock()
	change()
	var src []string
	if o.maintFile {
		src = append(src, "drain file "+o.cfg.DrainFile)
	}
	if o.maintSocket {
		src = append(src, "admin socket")
	}
	o.mon.SetMaintenance(len(src) > 0, strings.Join(src, " and "))
}

// command answers one admin socket command.
func (o *ops) command(cmd string) string {
	switch strings.Join(strings.Fields(strings.ToLower(cmd)), " ") {
	case "poke":
		o.mon.Trigger()
		if o.reg != nil {
			o.reg.CountPoke()
		}
		return "ok: probe round started"
	case "maintenance on":
		o.setMaintenance(func() { o.maintSocket = true })
		return "ok: maintenance on"
	case "maintenance off":
		o.setMaintenance(func() { o.maintSocket = false })
		if s := o.mon.Snapshot(); s.Maintenance {
			return "ok: maintenance off on the socket, but still in maintenance: " + s.MaintenanceSource
		}
		return "ok: maintenance off"
	case "status", "maintenance status":
		s := o.mon.Snapshot()
		return fmt.Sprintf("ok: role %s mirror %s routable %t maintenance %t: %s", s.Role, orDash(string(s.Mirror)), s.Routable, s.Maintenance, s.Reason)
	default:
		return "error: unknown command (poke, maintenance on, maintenance off, status)"
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
