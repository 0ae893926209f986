//go:build !linux

package demo

import "errors"

// Elsewhere than Linux the demo reads line commands and redraws nothing in
// place: a terminal is not detected.
func isTerminal(int) bool { return false }

func cbreak(int) (func(), error) { return nil, errors.New("not supported") }
