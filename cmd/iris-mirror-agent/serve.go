package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/irismirror/iris-mirror-agent/agent"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/logging"
)

// logFlushTimeout bounds how long serve waits at exit for its log to drain:
// a log output nobody reads must not hold the process.
const logFlushTimeout = time.Second

func runServe(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := config.LoadServe(args, environ, stdout)
	if code, done := usageResult("serve", err, stderr, ExitUsage); done {
		return code
	}
	log, logw := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
	defer logw.Close(logFlushTimeout)
	hurry, stopSignals := signals(ctx)
	defer stopSignals()
	a, err := agent.New(cfg, agent.Options{Logger: log, LogDropped: logw.Dropped, Hurry: hurry.second})
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent serve: %v\n", err)
		if errors.As(err, new(*agent.ConfigError)) {
			return ExitUsage
		}
		return ExitRuntime
	}
	go hurry.reloadOnHangup(a)
	if err := a.Run(ctx); err != nil {
		log.Error().Err(err).Msg("agent stopped")
		return ExitRuntime
	}
	log.Info().Str("member", cfg.Member).Msg("agent stopped")
	return ExitOK
}

// serveSignals are the signals serve reacts to besides the first SIGTERM
// (which cancels its context): a second one ends the shutdown delay, and
// SIGHUP reloads the HTTPS certificate.
type serveSignals struct {
	second chan struct{}
	hup    chan os.Signal
	done   <-chan struct{}
}

func signals(ctx context.Context) (*serveSignals, func()) {
	s := &serveSignals{second: make(chan struct{}), hup: make(chan os.Signal, 1)}
	// SIGHUP is taken from the start: a stray hangup must not stop the agent.
	signal.Notify(s.hup, syscall.SIGHUP)
	term := make(chan os.Signal, 1)
	stop := make(chan struct{})
	s.done = stop
	go func() {
		select {
		case <-ctx.Done(): // the first signal
		case <-stop:
			return
		}
		signal.Notify(term, os.Interrupt, syscall.SIGTERM)
		select {
		case <-term:
			close(s.second)
		case <-stop:
		}
	}()
	return s, func() {
		close(stop)
		signal.Stop(term)
		signal.Stop(s.hup)
	}
}

func (s *serveSignals) reloadOnHangup(a *agent.Agent) {
	for {
		select {
		case <-s.done:
			return
		case <-s.hup:
			a.Reload()
		}
	}
}
