//go:build !linux

package haproxy

import "syscall"

// delayHandshakeACK has no portable equivalent outside Linux.
func delayHandshakeACK(_, _ string, _ syscall.RawConn) error { return nil }
