package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/admin"
	"github.com/irismirror/iris-mirror-agent/config"
)

// adminSettings are the settings of the commands that talk to a running
// agent's admin socket: poke and maintenance.
type adminSettings struct {
	AdminSocket string        `env:"ADMIN_SOCKET" flag:"admin-socket" help:"the agent's admin socket (serve --admin-socket)"`
	Timeout     time.Duration `env:"ADMIN_TIMEOUT" envDefault:"2s" flag:"timeout" help:"give up after this long"`
}

// loadAdmin reads the settings of an admin command and returns its
// positional arguments.
func loadAdmin(name, synopsis string, args, environ []string, help io.Writer) (*adminSettings, []string, error) {
	cfg := &adminSettings{}
	rest, err := config.Load(cfg, name, synopsis, args, environ, help)
	if err != nil {
		return nil, nil, err
	}
	if cfg.AdminSocket == "" {
		return nil, nil, &config.Error{Flag: "admin-socket", Env: config.Prefix + "ADMIN_SOCKET", Err: errEmptySocket}
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, nil, &config.Error{Flag: "timeout", Env: config.Prefix + "ADMIN_TIMEOUT", Value: cfg.Timeout.String(), Err: errTimeout}
	}
	return cfg, rest, nil
}

// adminCommand sends one command to the agent's admin socket and prints
// the answer; it exits 0 when the agent said ok.
func adminCommand(ctx context.Context, cfg *adminSettings, cmd admin.Command, stdout io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	reply, err := admin.Send(ctx, cfg.AdminSocket, cmd)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %v\n", err)
		return ExitFail
	}
	fmt.Fprintln(stdout, reply)
	if !strings.HasPrefix(reply, "ok") {
		return ExitFail
	}
	return ExitOK
}

var (
	errEmptySocket = errors.New("empty: set the agent's admin socket path")
	errTimeout     = errors.New("must be between 1ms and 1m")
)
