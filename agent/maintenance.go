package agent

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
	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/monitor"
)

// maintenance holds the sources that take the member out of every
// balancer: the drain file and the admin socket. The member is in
// maintenance while either says so.
type maintenance struct {
	file string // --drain-file; "" when unset
	mon  *monitor.Monitor
	log  zerolog.Logger

	mu     sync.Mutex
	byFile bool // the drain file exists
	bySock bool // the admin socket said on
}

func newMaintenance(file string, mon *monitor.Monitor, log zerolog.Logger) *maintenance {
	return &maintenance{file: file, mon: mon, log: log}
}

// set changes one source and publishes the result.
func (m *maintenance) set(change func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	change()
	var src []string
	if m.byFile {
		src = append(src, "drain file "+m.file)
	}
	if m.bySock {
		src = append(src, "admin socket")
	}
	m.mon.SetMaintenance(len(src) > 0, strings.Join(src, " and "))
}

// checkFile follows the drain file. A stat error other than "does not
// exist" keeps the last state.
func (m *maintenance) checkFile() {
	if m.file == "" {
		return
	}
	_, err := os.Stat(m.file)
	switch {
	case err == nil:
		m.set(func() { m.byFile = true })
	case errors.Is(err, os.ErrNotExist):
		m.set(func() { m.byFile = false })
	default:
		m.log.Warn().Err(err).Str("drain_file", m.file).Msg("cannot check the drain file: maintenance unchanged")
	}
}

// watchFile checks the drain file every interval until ctx is done: a
// stat per interval, never per request (answers stay in memory).
func (m *maintenance) watchFile(ctx context.Context) error {
	if m.file == "" {
		return nil
	}
	t := time.NewTicker(m.mon.Interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.checkFile()
		}
	}
}

// controls is what the admin socket may do (admin.Controls).
type controls struct{ a *Agent }

func (c controls) Poke() {
	c.a.mon.Trigger()
	if c.a.reg != nil {
		c.a.reg.CountPoke()
	}
}

func (c controls) SetSocketMaintenance(on bool) {
	m := c.a.maint
	m.set(func() { m.bySock = on })
}

func (c controls) State() admin.State {
	s := c.a.mon.Snapshot()
	return admin.State{
		Role: string(s.Role), Mirror: string(s.MirrorRole),
		Routable:    s.Verdict(checker.AskPrimary, time.Now()).OK,
		Maintenance: s.Maintenance, MaintenanceSource: s.MaintenanceSource, Reason: s.Reason,
	}
}

// listenAdmin opens the admin socket with the other ports, so a bad path
// is an error at start.
func listenAdmin(cfg *config.Serve) (net.Listener, error) {
	ln, err := admin.Listen(cfg.AdminSocket, cfg.AdminSocketPerm())
	if err != nil {
		return nil, fmt.Errorf("--admin-socket %s: %w", cfg.AdminSocket, err)
	}
	return ln, nil
}

func (a *Agent) serveAdmin(ctx context.Context) error {
	if err := admin.Serve(ctx, a.adminLn, controls{a}, a.log); err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	return nil
}
