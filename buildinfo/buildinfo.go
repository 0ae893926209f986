// Package buildinfo reports the agent's version, stamped at link time with
// -ldflags "-X github.com/irismirror/iris-mirror-agent/buildinfo.Version=v1.2.3",
// else taken from the module and VCS data Go embeds.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version is set at link time; empty means "ask the build info".
var Version string

// Get returns the version string, such as "v0.1.0" or "devel-3f2a1c9".
func Get() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev == "":
		return "devel"
	case dirty:
		return "devel-" + rev + "-dirty"
	default:
		return "devel-" + rev
	}
}

// GoVersion is the Go release the binary was built with.
func GoVersion() string { return runtime.Version() }
