package haproxyclient

import (
	"context"
	"io"
	"net"
	"time"
)

// Ask performs one agent check the way haproxy does and returns the line
// the agent wrote. The agent reads what has arrived when it accepts the
// connection, so send must ride on the handshake: like haproxy, the dialer
// delays the handshake's last ACK (TCP_QUICKACK off, on Linux) so it goes
// out with the first data. A client that connects first and writes later
// may be answered for the default check (primary).
func Ask(ctx context.Context, addr, send string) (string, error) {
	d := net.Dialer{}
	if send != "" {
		d.Control = DelayHandshakeACK
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(io.LimitReader(c, 4096))
	return string(b), err
}
