package itest

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Socket is one TCP socket as ss(8) shows it.
type Socket struct {
	RecvQ, SendQ int64 // bytes not yet read by its owner / not yet acknowledged by the peer
	Keepalive    bool  // a keepalive timer runs: a peer that vanishes is found
}

// Sockets lists the host's TCP sockets in state (such as established or
// fin-wait-2) matching an ss filter, such as "src 127.1.2.1:1973"
// (iproute2's ss).
func Sockets(t testing.TB, state string, filter ...string) []Socket {
	t.Helper()
	ss := RequireTool(t, "ss")
	out, err := Run(append([]string{ss, "-tnoH", "state", state}, filter...), nil, 10*time.Second)
	if err != nil {
		t.Fatalf("ss %v: %v\n%s", filter, err, out)
	}
	var socks []Socket
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		r, _ := strconv.ParseInt(f[0], 10, 64)
		s, _ := strconv.ParseInt(f[1], 10, 64)
		socks = append(socks, Socket{RecvQ: r, SendQ: s, Keepalive: strings.Contains(line, "timer:(keepalive")})
	}
	return socks
}

// Queued sums the receive and send queues of socks.
func Queued(socks []Socket) (recv, send int64) {
	for _, s := range socks {
		recv += s.RecvQ
		send += s.SendQ
	}
	return recv, send
}

// Connected reports whether the peer has neither closed nor reset c,
// reading (and dropping) whatever it sent. It never waits: a read with a
// short deadline would instead report a timeout, whatever the socket
// holds, whenever the deadline passed before the read ran (a busy
// machine).
func Connected(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	connected := false
	buf := make([]byte, 4096)
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			switch {
			case err == unix.EINTR || n > 0:
				continue
			case err == unix.EAGAIN:
				connected = true
			}
			return true // EOF, reset or nothing more to read: done either way
		}
	})
	return err == nil && connected
}
