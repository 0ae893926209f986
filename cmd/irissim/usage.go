package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// withUsage makes fs print synopsis and then its flags the way the docs
// and iris-mirror-agent write them (--name, not the flag package's
// -name); both forms are accepted.
func withUsage(fs *flag.FlagSet, w io.Writer, synopsis string) *flag.FlagSet {
	fs.Usage = func() {
		fmt.Fprintf(w, "%s\n\nFlags:\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			kind, help := flag.UnquoteUsage(f)
			col := "--" + f.Name
			if kind != "" {
				col += " " + kind
			}
			switch f.DefValue {
			case "", "0", "0s", "false":
			default:
				help += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(w, "  %s\n      %s\n", col, help)
		})
	}
	return fs
}

// parse parses a subcommand's args. When it fails, code is the exit code:
// 0 for -h (the usage was printed), 2 for a bad flag (the flag package
// has said which).
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
