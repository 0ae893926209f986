package haproxyclient

import "syscall"

// DelayHandshakeACK (a net.Dialer Control) turns TCP_QUICKACK off before
// connect, as haproxy does for checks that send data: Linux then holds the
// handshake's final ACK and sends it with the first data segment, so the
// data is there at accept.
func DelayHandshakeACK(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0)
	})
	if err != nil {
		return err
	}
	return serr
}
