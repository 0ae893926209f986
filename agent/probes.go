package agent

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/monitor"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// buildProbers binds serve's probes to their targets.
func buildProbers(cfg *config.Serve, log zerolog.Logger) ([]monitor.Prober, error) {
	if cfg.InsecureSkipVerify {
		log.Warn().Msg("--insecure-skip-verify: the mirror-status certificate is not verified")
	}
	return Probers(Targets{
		MirrorStatusURL: cfg.MirrorStatusURL,
		TLS:             endpoint.TLSOptions{CAFile: cfg.CAFile, InsecureSkipVerify: cfg.InsecureSkipVerify},
		SuperServer:     cfg.SuperServer, QListInstance: cfg.QListInstance, IrisBin: cfg.IrisBin,
	})
}

// Targets are what the probes ask: the member's mirror_status URL, its
// SuperServer (empty: not probed) and its instance for iris qlist (empty:
// not run).
type Targets struct {
	MirrorStatusURL string
	TLS             endpoint.TLSOptions
	SuperServer     string
	QListInstance   string
	IrisBin         string
}

// Probers binds the probes to their targets, the way serve and
// `check --direct` both probe. The mirror status probe is always first:
// it is the role source.
func Probers(t Targets) ([]monitor.Prober, error) {
	target, err := probe.NewHTTPTarget(t.MirrorStatusURL, t.TLS)
	if err != nil {
		return nil, fmt.Errorf("--mirror-status-url: %w", err)
	}
	probers := []monitor.Prober{{
		Spec: checker.ProbeSpec{Name: probe.MirrorStatusName, Target: target.Display},
		Run:  func(ctx context.Context) probe.Result { return probe.MirrorStatus(ctx, target) },
	}}
	if addr := t.SuperServer; addr != "" {
		probers = append(probers, monitor.Prober{
			Spec: checker.ProbeSpec{Name: probe.SuperServerName, Target: addr},
			Run:  func(ctx context.Context) probe.Result { return probe.SuperServer(ctx, addr) },
		})
	}
	if t.QListInstance != "" {
		q := probe.QListTarget{Bin: t.IrisBin, Instance: t.QListInstance}
		probers = append(probers, monitor.Prober{
			Spec: checker.ProbeSpec{Name: probe.QListName, Target: t.IrisBin + " qlist " + t.QListInstance},
			Run:  func(ctx context.Context) probe.Result { return probe.RunQList(ctx, q) },
		})
	}
	return probers, nil
}
