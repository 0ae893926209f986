package main

import (
	"fmt"
	"io"

	"github.com/irismirror/iris-mirror-agent/buildinfo"
)

func runVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "iris-mirror-agent %s (%s)\n", buildinfo.Get(), buildinfo.GoVersion())
	return ExitOK
}
