package agentload

import (
	"net"
	"syscall"
	"time"
)

// Dialer connects as haproxy does. When it has something to send (sends),
// quick ACK is off, so the handshake's last ACK waits and leaves with the
// first data: the server finds the agent-send already queued when it
// accepts, as it does with a real haproxy. With nothing to send, that
// would delay the handshake by a delayed-ACK timeout, so it stays on.
func Dialer(timeout time.Duration, sends bool) *net.Dialer {
	if !sends {
		return &net.Dialer{Timeout: timeout}
	}
	return &net.Dialer{Timeout: timeout, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0)
		})
		if err != nil {
			return err
		}
		return serr
	}}
}
