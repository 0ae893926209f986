package main

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// runHealthcheck is Docker's HEALTHCHECK: exit 0 if the local agent gives
// its positive answer on the endpoint (live by default, so a healthy
// backup's container is healthy), else 1, never 2 (Docker reserves it).
// It answers the settings that need only plain HTTP to an IP address (the
// image's) itself, and hands the rest to iris-mirror-agent healthcheck.
func runHealthcheck(args, environ []string, stdout, stderr io.Writer) int {
	hc, ok := extcheck.PlainHealthcheck(args, environ)
	if !ok {
		return delegate(args, environ, stderr)
	}
	a, err := extcheck.Ask(hc.Addr, hc.Request, time.Now().Add(hc.Timeout))
	msg := extcheck.Describe(hc.URL, a, err)
	if err != nil || !a.Pass {
		_, _ = io.WriteString(stdout, "unhealthy "+msg+"\n")
		return exitFail
	}
	_, _ = io.WriteString(stdout, "healthy "+msg+"\n")
	return exitOK
}

// delegate runs iris-mirror-agent healthcheck from the same directory (the
// image ships both) in place of this process, so its exit code is the
// healthcheck's.
func delegate(args, environ []string, stderr io.Writer) int {
	self, err := os.Executable()
	if err == nil {
		big := filepath.Join(filepath.Dir(self), "iris-mirror-agent")
		err = syscall.Exec(big, append([]string{big, "healthcheck"}, args...), environ)
	}
	_, _ = io.WriteString(stderr, "iris-mirror-check healthcheck: these settings (flags, a URL, TLS or a host name) are read by iris-mirror-agent healthcheck, "+
		"which should be next to this binary: "+err.Error()+"\n")
	return exitFail
}
