package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/buildinfo"
	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/haproxy"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/monitor"
	"github.com/irismirror/iris-mirror-agent/probe"
)

func runServe(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := config.LoadServe(args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent serve: %v\n", err)
		return ExitUsage
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	probers, err := buildProbers(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent serve: %v\n", err)
		return ExitUsage
	}
	ops := newOps(cfg, log)
	mon := monitor.New(append(probers, qlistProber(cfg)...), ops.monitorOptions(monitor.Options{
		Member:   cfg.Member,
		Interval: cfg.Interval,
		Timeout:  cfg.Timeout,
		Checker:  checker.Config{Rise: cfg.Rise, Fall: cfg.Fall, StaleAfter: cfg.StaleAfter()},
		Logger:   log,
	}))
	ops.attach(mon)

	tlsr, err := httpTLS(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent serve: --tls-cert-file: %v\n", err)
		return ExitUsage
	}

	// Open every port before serving anything, so a port in use is one
	// clear error at start rather than a half-running agent.
	var httpLn, agentLn net.Listener
	if cfg.HTTPListen != "" {
		if httpLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			fmt.Fprintf(stderr, "iris-mirror-agent serve: --http-listen %s: %v\n", cfg.HTTPListen, errors.Unwrap(err))
			return ExitRuntime
		}
		defer httpLn.Close()
	}
	if cfg.AgentListen != "" {
		if agentLn, err = net.Listen("tcp", cfg.AgentListen); err != nil {
			fmt.Fprintf(stderr, "iris-mirror-agent serve: --agent-listen %s: %v\n", cfg.AgentListen, errors.Unwrap(err))
			return ExitRuntime
		}
		defer agentLn.Close()
	}
	if err := ops.listen(); err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent serve: %v\n", err)
		return ExitRuntime
	}
	defer ops.close()
	gates, err := setupGates(cfg, mon, gateCounter(ops), log)
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent serve: %v\n", err)
		return ExitRuntime
	}
	fnc, err := setupFence(cfg, mon, log)
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent serve: %v\n", err)
		return ExitRuntime
	}

	ev := log.Info().Str("member", cfg.Member).Str("version", buildinfo.Get()).
		Str("mirror_status_url", probers[0].Spec.Target).Str("superserver", cfg.SuperServer).
		Stringer("interval", cfg.Interval).Stringer("timeout", cfg.Timeout).Int("rise", cfg.Rise).Int("fall", cfg.Fall)
	if httpLn != nil {
		ev = ev.Str("http", httpLn.Addr().String()).Bool("https", tlsr != nil)
	}
	if agentLn != nil {
		ev = ev.Str("agent_check", agentLn.Addr().String())
	}
	ev.Msg("agent starting")

	g := newGroup(context.Background())
	g.Go(mon.Run)
	g.Go(func(ctx context.Context) error { return reloadOnHangup(ctx, tlsr, log) })
	ops.start(g)
	gates.run(g)
	if fnc != nil {
		g.Go(fnc.Run)
	}
	if httpLn != nil {
		h := &httpapi.Handler{Snapshot: mon.Snapshot, Info: httpapi.Info{
			Member: cfg.Member, Version: buildinfo.Get(),
			Interval: cfg.Interval, Timeout: cfg.Timeout, Rise: cfg.Rise, Fall: cfg.Fall,
		}, Gates: gates.status()}
		ops.httpExtras(h)
		fenceExtras(fnc, h, ops.reg) // both served on the HTTP listener only
		srv := httpapi.NewServer(h)
		srvLn := httpListener(srv, httpLn, tlsr, log)
		g.Go(func(ctx context.Context) error {
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			if err := srv.Serve(srvLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
	}
	if agentLn != nil {
		as := &haproxy.AgentServer{Snapshot: mon.Snapshot, Logger: log}
		ops.agentExtras(as)
		g.Go(func(ctx context.Context) error {
			if err := as.Serve(ctx, agentLn); err != nil && ctx.Err() == nil {
				return fmt.Errorf("agent-check: %w", err)
			}
			return nil
		})
	}
	g.Go(func(gctx context.Context) error {
		select {
		case <-gctx.Done():
			return nil
		case <-ctx.Done():
		}
		drain(mon, cfg.ShutdownDelay, log)
		return nil
	})
	if err := g.Wait(); err != nil {
		log.Error().Err(err).Msg("agent stopped")
		return ExitRuntime
	}
	log.Info().Str("member", cfg.Member).Msg("agent stopped")
	return ExitOK
}

// drain answers "down #shutting down" to every check for delay, so each
// balancer sees the member go before its port closes. A second signal ends
// the wait.
func drain(mon *monitor.Monitor, delay time.Duration, log zerolog.Logger) {
	mon.Drain()
	log.Info().Stringer("delay", delay).Msg("shutting down: answering down until the delay ends")
	if delay <= 0 {
		return
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-again:
		log.Info().Msg("second signal: stopping now")
	}
}

// buildProbers binds the configured probes to their targets. The mirror
// status probe is always first: it is the role source.
func buildProbers(cfg *config.Serve, log zerolog.Logger) ([]monitor.Prober, error) {
	target, err := probe.NewHTTPTarget(cfg.MirrorStatusURL, endpoint.TLSOptions{
		CAFile: cfg.CAFile, InsecureSkipVerify: cfg.InsecureSkipVerify,
	})
	if err != nil {
		return nil, fmt.Errorf("--mirror-status-url: %w", err)
	}
	if cfg.InsecureSkipVerify {
		log.Warn().Msg("--insecure-skip-verify: the mirror-status certificate is not verified")
	}
	probers := []monitor.Prober{{
		Spec: checker.ProbeSpec{Name: probe.MirrorStatusName, Target: target.Display},
		Run:  func(ctx context.Context) probe.Result { return probe.MirrorStatus(ctx, target) },
	}}
	if cfg.SuperServer != "" {
		addr := cfg.SuperServer
		probers = append(probers, monitor.Prober{
			Spec: checker.ProbeSpec{Name: probe.SuperServerName, Target: addr},
			Run:  func(ctx context.Context) probe.Result { return probe.SuperServer(ctx, addr) },
		})
	}
	return probers, nil
}
