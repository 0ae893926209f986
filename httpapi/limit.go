package httpapi

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// MaxConns is how many connections the HTTP listener holds at once. A
// balancer's check holds one for well under a millisecond, so this bounds
// what idle or slow clients can take (about 20 KB each) without ever
// limiting the checks.
const MaxConns = 1024

// ConnLimit caps the connections an http.Server holds, in all and per
// client address. When a client address holds MaxConns/4, its own oldest
// connection that is not in a request (one that has sent nothing yet, or
// an idle keep-alive) makes room for its new one; when the server holds
// MaxConns, the busiest address gives up its oldest such connection. So a
// slowloris or a flood from one address cannot lock balancers at other
// addresses out, and even from the same address a balancer's check, which
// sends its request at once, outlives the attacker's older connections.
// If nothing can give way, the new connection is closed at once rather
// than left waiting.
type ConnLimit struct {
	max, perIP int

	mu    sync.Mutex
	conns map[net.Conn]*connInfo
	byIP  map[string]int

	evicted  atomic.Uint64
	rejected atomic.Uint64
}

type connInfo struct {
	ip    string
	state http.ConnState
	since time.Time
}

// LimitConns makes srv hold at most maxConns connections from ln (a
// quarter of them per client address) and returns the listener to serve. It chains
// srv.ConnState.
func LimitConns(srv *http.Server, ln net.Listener, maxConns int) (net.Listener, *ConnLimit) {
	l := &ConnLimit{max: maxConns, perIP: max(1, maxConns/4), conns: make(map[net.Conn]*connInfo, maxConns), byIP: map[string]int{}}
	next := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		l.track(c, s)
		if next != nil {
			next(c, s)
		}
	}
	return &limitListener{Listener: ln, limit: l}, l
}

// Open is the number of connections held now.
func (l *ConnLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Evicted counts connections closed to make room; Rejected counts new
// connections closed because nothing could give way.
func (l *ConnLimit) Evicted() uint64  { return l.evicted.Load() }
func (l *ConnLimit) Rejected() uint64 { return l.rejected.Load() }

func (l *ConnLimit) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ci, ok := l.conns[c]
	if !ok {
		return
	}
	switch s {
	case http.StateClosed, http.StateHijacked:
		l.forgetLocked(c, ci)
	default:
		if ci.state != s {
			ci.state, ci.since = s, time.Now()
		}
	}
}

func (l *ConnLimit) forgetLocked(c net.Conn, ci *connInfo) {
	delete(l.conns, c)
	if l.byIP[ci.ip]--; l.byIP[ci.ip] <= 0 {
		delete(l.byIP, ci.ip)
	}
}

// admit registers c, making room if needed; false means c must be closed.
func (l *ConnLimit) admit(c net.Conn) bool {
	ip := remoteIP(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	from := ""
	switch {
	case l.byIP[ip] >= l.perIP:
		from = ip
	case len(l.conns) >= l.max:
		for addr, n := range l.byIP {
			if from == "" || n > l.byIP[from] {
				from = addr
			}
		}
	}
	if from != "" {
		var victim net.Conn
		var oldest *connInfo
		for vc, ci := range l.conns {
			if ci.ip != from || ci.state == http.StateActive {
				continue
			}
			if oldest == nil || ci.since.Before(oldest.since) {
				victim, oldest = vc, ci
			}
		}
		if victim == nil {
			l.rejected.Add(1)
			return false
		}
		l.forgetLocked(victim, oldest)
		closeRaw(victim)
		l.evicted.Add(1)
	}
	l.conns[c] = &connInfo{ip: ip, state: http.StateNew, since: time.Now()}
	l.byIP[ip]++
	return true
}

func remoteIP(c net.Conn) string {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	return host
}

// closeRaw closes the socket under a TLS connection too: tls.Conn.Close
// would try to send an alert to a peer that may not be reading.
func closeRaw(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	_ = c.Close()
}

type limitListener struct {
	net.Listener
	limit *ConnLimit
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ll.limit.admit(c) {
			return c, nil
		}
		closeRaw(c)
	}
}
