package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/irismirror/iris-mirror-agent/admin"
	"github.com/irismirror/iris-mirror-agent/config"
)

const maintenanceSynopsis = `iris-mirror-agent maintenance on|off|status [settings]

Take the local member out of every balancer (on) or put it back (off),
through the agent's admin socket. It lasts until "off" or an agent restart;
for a switch that survives restarts use serve --drain-file.`

func runMaintenance(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, rest, err := config.LoadAdmin("iris-mirror-agent maintenance", maintenanceSynopsis, args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err == nil && (len(rest) != 1 || (rest[0] != "on" && rest[0] != "off" && rest[0] != "status")) {
		err = errors.New("want one of: on, off, status")
	}
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent maintenance: %v\n", err)
		return ExitUsage
	}
	return adminCommand(ctx, cfg, admin.Command("maintenance "+rest[0]), stdout)
}
