//go:build !linux

package extcheck

import (
	"io"
	"net"
	"net/netip"
	"time"
)

// dial uses the net package where the raw socket (dial_linux.go) is not
// written: the check works, at the net package's start-up cost.
func dial(addr netip.AddrPort, deadline time.Time) (io.ReadWriteCloser, error) {
	c, err := net.DialTimeout("tcp", addr.String(), time.Until(deadline))
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
