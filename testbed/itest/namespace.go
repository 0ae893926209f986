package itest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// WithFiles wraps argv so it runs in a private mount namespace where each
// target path (such as /etc/resolv.conf) shows the content of its source
// file. Nothing outside the process sees the change.
func WithFiles(t testing.TB, files map[string]string, argv ...string) []string {
	t.Helper()
	RequireRoot(t, "mount namespace")
	unshare := RequireTool(t, "unshare")
	targets := make([]string, 0, len(files))
	for target := range files {
		targets = append(targets, target)
	}
	sort.Strings(targets)
	var script strings.Builder
	args := []string{}
	for i, target := range targets {
		fmt.Fprintf(&script, `mount --bind "${%d}" "${%d}" && `, 2*i, 2*i+1)
		args = append(args, files[target], target)
	}
	fmt.Fprintf(&script, `shift %d && exec "$@"`, 2*len(targets)-1)
	// $0 is the first source: sh -c takes the first argument as $0.
	out := []string{unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script.String()}
	out = append(out, args...)
	return append(out, argv...)
}
