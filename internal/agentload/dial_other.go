//go:build !linux

package agentload

import (
	"net"
	"time"
)

// Dialer is a plain dialer where quick ACK cannot be switched off.
func Dialer(timeout time.Duration, _ bool) *net.Dialer { return &net.Dialer{Timeout: timeout} }
