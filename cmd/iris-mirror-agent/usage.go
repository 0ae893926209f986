package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// usageResult is every subcommand's handling of its settings' outcome:
// --help printed the usage (exit 0); a bad setting is one line on stderr
// and exit badCode (ExitUsage, or ExitFail for healthcheck: Docker
// reserves 2). done is false when the command should go on.
func usageResult(name string, err error, stderr io.Writer, badCode int) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return ExitOK, true
	}
	fmt.Fprintf(stderr, "iris-mirror-agent %s: %v\n", name, err)
	return badCode, true
}
