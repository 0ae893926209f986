package itest

import (
	"strconv"
	"strings"
	"testing"
	"time"
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
