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

// ConnLimit caps the connections an http.Server holds. When full, a new
// connection takes the place of the oldest one that is not in a request
// (one that has sent nothing yet, or an idle keep-alive), so a slowloris
// cannot lock balancers out: their checks are new connections that send
// their request at once. If every held connection is in a request, the new
// one is closed at once rather than left waiting.
type ConnLimit struct {
	max int

	mu    sync.Mutex
	conns map[net.Conn]*connInfo

	evicted  atomic.Uint64
	rejected atomic.Uint64
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

// LimitConns makes srv hold at most max connections from ln and returns
// the listener to serve. It chains srv.ConnState.
func LimitConns(srv *http.Server, ln net.Listener, max int) (net.Listener, *ConnLimit) {
	l := &ConnLimit{max: max, conns: make(map[net.Conn]*connInfo, max)}
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
// connections closed because every held one was in a request.
func (l *ConnLimit) Evicted() uint64  { return l.evicted.Load() }
func (l *ConnLimit) Rejected() uint64 { return l.rejected.Load() }

func (l *ConnLimit) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	default:
		if ci, ok := l.conns[c]; ok {
			if ci.state != s {
				ci.state, ci.since = s, time.Now()
			}
		}
	}
}

// admit registers c, making room if needed; false means c must be closed.
func (l *ConnLimit) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		var victim net.Conn
		var oldest time.Time
		for vc, ci := range l.conns {
			if ci.state == http.StateActive {
				continue
			}
			if victim == nil || ci.since.Before(oldest) {
				victim, oldest = vc, ci.since
			}
		}
		if victim == nil {
			l.rejected.Add(1)
			return false
		}
		delete(l.conns, victim)
		closeRaw(victim)
		l.evicted.Add(1)
	}
	l.conns[c] = &connInfo{state: http.StateNew, since: time.Now()}
	return true
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
