//go:build !linux

package haproxyclient

import "syscall"

// DelayHandshakeACK has no portable equivalent outside Linux.
func DelayHandshakeACK(_, _ string, _ syscall.RawConn) error { return nil }
