// Command iris-mirror-check is the small binary for the two callers that
// start a process per question: haproxy's external-check (one fork per
// server per interval) and Docker's HEALTHCHECK. It asks the agent over a
// raw socket and links little besides the runtime, so it starts about as
// fast as a Go program can (docs/external-check.md has the figures).
// iris-mirror-agent does the same jobs, at the start-up cost of the whole
// agent.
package main

import (
	"io"
	"os"
	"strconv"

	"github.com/irismirror/iris-mirror-agent/buildinfo"
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// Exit codes, as iris-mirror-agent's.
const (
	exitOK    = 0 // the check passed
	exitFail  = 1 // the check failed; healthcheck exits only 0 or 1 (Docker reserves 2)
	exitUsage = 2 // an unknown command
)

const usage = `Usage: iris-mirror-check healthcheck | version

As haproxy's external-check command (external-check command
/usr/local/bin/iris-mirror-check), it asks the agent on the checked
server's address: settings in ` + extcheck.ConfigPath + `
(see docs/external-check.md). Exit 0 only on the agent's positive answer.

  healthcheck  Docker HEALTHCHECK: exit 0 if the local agent is live
               (settings as iris-mirror-agent healthcheck's; flags, a URL or
               TLS are handed to iris-mirror-agent next to this binary)
  version      print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run dispatches and returns the exit code. No signal handling: haproxy's
// SIGTERM at its check timeout ends the process, and haproxy counts that
// as a failure.
func run(args, environ []string, stdout, stderr io.Writer) int {
	if inv, ok := extcheck.Detect(args, extcheck.Lookup(environ)); ok {
		return extcheck.Run(inv, extcheck.ConfigPath, stdout, nil)
	}
	if len(args) == 0 {
		_, _ = io.WriteString(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "healthcheck":
		return runHealthcheck(args[1:], environ, stdout, stderr)
	case "version", "--version":
		_, _ = io.WriteString(stdout, "iris-mirror-check "+buildinfo.Get()+" ("+buildinfo.GoVersion()+")\n")
		return exitOK
	case "help", "-h", "--help":
		_, _ = io.WriteString(stdout, usage)
		return exitOK
	}
	_, _ = io.WriteString(stderr, "iris-mirror-check: unknown command "+strconv.Quote(args[0])+" (try healthcheck or version; haproxy runs it with four arguments)\n")
	return exitUsage
}
