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
	if addr := cfg.SuperServer; addr != "" {
		probers = append(probers, monitor.Prober{
			Spec: checker.ProbeSpec{Name: probe.SuperServerName, Target: addr},
			Run:  func(ctx context.Context) probe.Result { return probe.SuperServer(ctx, addr) },
		})
	}
	if cfg.QListInstance != "" {
		t := probe.QListTarget{Bin: cfg.IrisBin, Instance: cfg.QListInstance}
		probers = append(probers, monitor.Prober{
			Spec: checker.ProbeSpec{Name: probe.QListName, Target: cfg.IrisBin + " qlist " + cfg.QListInstance},
			Run:  func(ctx context.Context) probe.Result { return probe.RunQList(ctx, t) },
		})
	}
	return probers, nil
}
