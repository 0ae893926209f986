// Package simulator is a simulated InterSystems IRIS mirror member, built
// from what a real member shows the outside world (see docs/simulator.md). No licence needed: tests and the quick start run on it.
//
// A member has a web port (the Web Gateway's /csp/mirror_status.cxw and an
// application path that names the member) and a SuperServer port, and one
// of these states:
//
//	primary  mirror_status.cxw: 200 SUCCESS; SuperServer accepts
//	backup   mirror_status.cxw: 503 FAILED;  SuperServer accepts
//	async    mirror_status.cxw: 503 FAILED;  SuperServer accepts
//	hang     both ports accept and never answer (instance hung, or stopped
//	         behind a live Web Gateway)
//	down     both ports refuse (host or container gone)
//
// SetLatency makes mirror_status.cxw slow the way a busy instance is: each
// request waits a time drawn from a latency profile, then is answered in
// the state the member is in by then.
package simulator

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/latency"
)

// State is the simulated member's condition.
type State string

// The states a member can be in.
const (
	Primary State = "primary"
	Backup  State = "backup"
	Async   State = "async"
	Hang    State = "hang"
	Down    State = "down"
)

// States lists every state.
var States = []State{Primary, Backup, Async, Hang, Down}

// ParseState accepts a state name.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == strings.TrimSpace(strings.ToLower(s)) {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown state %q (want primary, backup, async, hang or down)", s)
}

// Stats counts what reached the member.
type Stats struct {
	MirrorStatusRequests uint64 `json:"mirror_status_requests"`
	AppRequests          uint64 `json:"app_requests"`
	SuperServerConns     uint64 `json:"superserver_connections"`
}

// Member is one simulated mirror member.
type Member struct {
	Name            string
	WebAddr         string // host:port of the web server (52773)
	SuperServerAddr string // host:port of the SuperServer (1972)

	mu      sync.Mutex
	state   State
	changed chan struct{} // closed and replaced on every state change
	webLn   net.Listener
	ssLn    net.Listener
	web     *http.Server
	conns   map[net.Conn]struct{}
	closed  bool

	mirrorReqs, appReqs, ssConns atomic.Uint64

	latMu   sync.Mutex // guards latency and rng, drawn per request
	latency latency.Profile
	rng     *rand.Rand
}

// NewMember makes a member; Start opens its ports.
func NewMember(name, webAddr, superServerAddr string, state State) *Member {
	return &Member{
		Name: name, WebAddr: webAddr, SuperServerAddr: superServerAddr,
		state: state, changed: make(chan struct{}), conns: map[net.Conn]struct{}{},
	}
}

// Start opens the ports unless the member is down.
func (m *Member) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == Down {
		return nil
	}
	return m.openLocked()
}

// State returns the current state.
func (m *Member) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Stats returns the counters.
func (m *Member) Stats() Stats {
	return Stats{
		MirrorStatusRequests: m.mirrorReqs.Load(),
		AppRequests:          m.appReqs.Load(),
		SuperServerConns:     m.ssConns.Load(),
	}
}

// SetState moves the member to s. Going down closes the ports and every open
// connection; coming back reopens them. Requests held by a hang are released
// and answered in the new state.
func (m *Member) SetState(s State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("member closed")
	}
	if s == m.state {
		return nil
	}
	prev := m.state
	m.state = s
	close(m.changed)
	m.changed = make(chan struct{})
	switch {
	case s == Down:
		m.closeLocked()
	case prev == Down:
		return m.openLocked()
	}
	return nil
}

// Close stops the member for good.
func (m *Member) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	close(m.changed)
	m.changed = make(chan struct{})
	m.closeLocked()
}

func (m *Member) openLocked() error {
	webLn, err := net.Listen("tcp", m.WebAddr)
	if err != nil {
		return fmt.Errorf("%s web port: %w", m.Name, err)
	}
	var ssLn net.Listener
	if m.SuperServerAddr != "" {
		ssLn, err = net.Listen("tcp", m.SuperServerAddr)
		if err != nil {
			webLn.Close()
			return fmt.Errorf("%s superserver port: %w", m.Name, err)
		}
	}
	m.webLn, m.ssLn = webLn, ssLn
	m.web = &http.Server{
		Handler:           http.HandlerFunc(m.serveWeb),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go m.web.Serve(webLn) //nolint:errcheck // ends with ErrServerClosed
	if ssLn != nil {
		go m.serveSuperServer(ssLn)
	}
	return nil
}

func (m *Member) closeLocked() {
	// Close the listener here, not only through the server: a server
	// whose Serve goroutine has not started yet does not know it, and the
	// port would stay taken until that goroutine runs.
	if m.webLn != nil {
		m.webLn.Close()
	}
	if m.web != nil {
		m.web.Close() // closes the listener and every HTTP connection
		m.web = nil
	}
	if m.ssLn != nil {
		m.ssLn.Close()
		m.ssLn = nil
	}
	m.webLn = nil
	for c := range m.conns {
		c.Close()
	}
	clear(m.conns)
}

// current returns the state and a channel closed at the next change.
func (m *Member) current() (State, <-chan struct{}, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.changed, m.closed
}

// waitWhileHung blocks while the member hangs; it returns the state to
// answer in, or false if the client left or the member went down.
func (m *Member) waitWhileHung(ctx context.Context) (State, bool) {
	for {
		st, changed, closed := m.current()
		if closed {
			return st, false
		}
		if st != Hang {
			return st, st != Down
		}
		select {
		case <-ctx.Done():
			return st, false
		case <-changed:
		}
	}
}

// IsMirrorStatusPath matches /csp/mirror_status.cxw and /csp/bin/... under
// any application prefix, as the Web Gateway serves them.
func IsMirrorStatusPath(p string) bool {
	return strings.HasSuffix(p, "/csp/mirror_status.cxw") || strings.HasSuffix(p, "/csp/bin/mirror_status.cxw")
}

func (m *Member) serveWeb(w http.ResponseWriter, r *http.Request) {
	mirror := IsMirrorStatusPath(r.URL.Path)
	if mirror {
		m.mirrorReqs.Add(1)
	} else {
		m.appReqs.Add(1)
	}
	if mirror && !m.delay(r.Context()) {
		panic(http.ErrAbortHandler) // the client gave up, or the member went down
	}
	st, ok := m.waitWhileHung(r.Context())
	if !ok {
		panic(http.ErrAbortHandler) // drop the connection, as a dead instance would
	}
	if mirror {
		w.Header().Set("Content-Type", "text/plain")
		if st == Primary {
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "SUCCESS")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "FAILED")
		return
	}
	// The application: like the seed's REST app, it names the member that
	// served the request, so tests see where a balancer sent it.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Iris-Member", m.Name)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"HostName": m.Name, "Role": string(st), "Status": "OK",
		"TimeStamp": time.Now().UTC().Format(time.RFC3339Nano),
	})
}

// serveSuperServer accepts like IRIS's SuperServer. Its protocol here is a
// stand-in: each line a client sends is answered "<member> <state>", so a
// test can tell which member a TCP balancer chose. A hung member reads and
// never answers.
func (m *Member) serveSuperServer(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		m.ssConns.Add(1)
		m.mu.Lock()
		if m.closed || m.ssLn != ln {
			m.mu.Unlock()
			c.Close()
			return
		}
		m.conns[c] = struct{}{}
		m.mu.Unlock()
		go m.superServerConn(c)
	}
}

func (m *Member) superServerConn(c net.Conn) {
	defer func() {
		m.mu.Lock()
		delete(m.conns, c)
		m.mu.Unlock()
		c.Close()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rd := bufio.NewReader(c)
	for {
		if _, err := rd.ReadString('\n'); err != nil {
			return
		}
		st, ok := m.waitWhileHung(ctx)
		if !ok {
			return
		}
		if _, err := fmt.Fprintf(c, "%s %s\n", m.Name, st); err != nil {
			return
		}
	}
}
