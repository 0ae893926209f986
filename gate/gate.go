// Package gate guards one of the member's ports for balancers that cannot
// check health, such as open-source nginx, and for those that route before
// they have checked (a starting or reloading haproxy, a cloud balancer
// failing open).
//
// A Gate listens on LISTEN and forwards each connection byte for byte to
// TARGET while it is told the member passes the gate's question (primary by
// default). Otherwise it has no listener at all, so a balancer's connect is
// refused at once and the balancer moves to the next server. When the
// member stops passing, the listener closes and the forwarded sessions are
// cut (after an optional drain grace), as haproxy's on-marked-down
// shutdown-sessions does.
//
// The gate never probes anything; it only notices its own target refusing
// a connection, which closes it until the next verdict. Its owner calls
// Set with each verdict and
// the verdict's lease; Set only stores the wish and wakes the gate's own
// goroutine (Run), so publishing never waits on a socket. The gate is a
// dead man's switch: an open verdict holds only until its lease, and the
// gate closes by itself when no newer one renews it. Each connection is
// admitted only while the verdict holds, whatever Run is doing.
//
// listener.go holds the listener's state machine (Run), session.go the
// forwarded sessions.
package gate

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for the zero values of Config.
const (
	DefaultConnectTimeout = time.Second
	DefaultMaxSessions    = 4096
)

// chunk is how much one splice call may move before the byte counters are
// updated, so /status shows a long session's traffic while it runs.
const chunk = 1 << 20

// DescriptorsPerSession is what one session may hold open: its two sockets
// and, for each direction, the pipe Go's splice path keeps (two
// descriptors) while that direction waits for data or for room. An idle
// session holds all six. Size RLIMIT_NOFILE with FitSessions.
const DescriptorsPerSession = 6

// FitSessions is the session cap per gate that keeps n gates, each full,
// within budget descriptors (at least 1).
func FitSessions(budget, n int) int {
	if n <= 0 {
		return 0
	}
	return max(1, budget/(n*DescriptorsPerSession))
}

// Once a burst of at least reclaimAfter sessions has ended, and the gate
// has been without sessions for reclaimDelay, the gate has the runtime
// collect garbage and return free memory. Go keeps the pipes of ended
// splices in a sync.Pool that only a garbage collection empties, and the
// collector may not run for minutes in an agent that allocates little: a
// flood would otherwise leave thousands of descriptors and the sessions'
// stacks with the agent long after it ended.
const (
	reclaimAfter = 256
	reclaimDelay = time.Second
)

// fullLogEvery is how often a full gate says so in the log at most.
const fullLogEvery = 10 * time.Second

// Config describes one gate.
type Config struct {
	Listen  string // [host]:port; port 0 picks a free port at the first open and keeps it
	Target  string // host:port the connections are forwarded to
	OpensOn string // the question that opens it, for logs and Stats: primary or standby
	// Drain lets forwarded sessions run this long after the gate closes;
	// new connections are refused at once either way. 0 cuts at once.
	Drain          time.Duration
	ConnectTimeout time.Duration // to Target; 0 means DefaultConnectTimeout
	MaxSessions    int           // concurrent sessions; beyond, connections are reset; 0 means DefaultMaxSessions
	Member         string        // for logs
	Logger         zerolog.Logger
	Counter        Counter // also told about the traffic (such as the agent's metrics); nil means none
	// OnTargetRefused, if set, is called (off the gate's goroutines'
	// critical path, and at most once per verdict) when the target refuses
	// a connection: the member's service is gone, so the gate closes until
	// a newer verdict, and its owner may probe at once.
	OnTargetRefused func()
}

// Counter is told about a gate's traffic as it flows. Its methods must be
// cheap and safe for concurrent use: they run on the forwarding path.
type Counter interface {
	CountGateConnection()       // a connection admitted
	AddGateBytes(in, out int64) // bytes forwarded: in is client to target
}

// Gate is one guarded port. Build it with New, drive it with Set, and run
// it with Run.
type Gate struct {
	cfg        Config
	listenAddr string // what to bind: Listen, with a port 0 pinned after the first open; Run's goroutine only

	wish      atomic.Pointer[wish]
	suspended atomic.Pointer[wish] // the wish the target refused under: void until a newer one
	applied   atomic.Pointer[wish] // the wish Run last reconciled the listener with
	wake      chan struct{}
	ran       atomic.Bool

	mu       sync.Mutex
	ln       *net.TCPListener // nil while closed
	sessions map[*session]struct{}
	changed  chan struct{} // closed and replaced when the listener opens or closes
	lastErr  string
	peak     int           // most sessions at once since the last reclaim
	idle     chan struct{} // a burst of sessions has ended: Run reclaims

	wg sync.WaitGroup // accept loops and sessions

	sessionsTotal, bytesToTarget, bytesToClient atomic.Uint64
	dialFailures, cut, overLimit, notOpen       atomic.Uint64
	opened, closed, listenErrors                atomic.Uint64
	dialFailing                                 atomic.Bool
	overLimitLoggedAt                           atomic.Int64 // UnixNano of the last "gate full" line
}

// wish is the last verdict the gate was given.
type wish struct {
	open   bool
	until  time.Time // the verdict's lease; an open wish is void from then on
	reason string
}

// New checks cfg and builds a closed gate.
func New(cfg Config) (*Gate, error) {
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("gate listen %q: %w", cfg.Listen, err)
	}
	if host, _, err := net.SplitHostPort(cfg.Target); err != nil || host == "" {
		return nil, fmt.Errorf("gate target %q: want host:port", cfg.Target)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.OpensOn == "" {
		cfg.OpensOn = "primary"
	}
	g := &Gate{
		cfg:        cfg,
		listenAddr: cfg.Listen,
		wake:       make(chan struct{}, 1),
		idle:       make(chan struct{}, 1),
		sessions:   map[*session]struct{}{},
		changed:    make(chan struct{}),
	}
	g.wish.Store(&wish{reason: "not yet checked"})
	return g, nil
}

// Listen is the configured listen address.
func (g *Gate) Listen() string { return g.cfg.Listen }

// Set opens (true) or closes the gate, with the reason shown in Stats; an
// open verdict holds until until, its lease. It never blocks; Run applies
// the latest wish.
func (g *Gate) Set(open bool, until time.Time, reason string) {
	prev := g.wish.Swap(&wish{open: open, until: until, reason: reason})
	if prev.open != open || !prev.until.Equal(until) {
		select {
		case g.wake <- struct{}{}:
		default: // a wake-up is already pending; Run reads the latest wish
		}
	}
}

// allowed reports whether the gate should be open at now: an open wish
// within its lease.
func (g *Gate) allowed(now time.Time) bool { return g.allows(g.wish.Load(), now) }

// allows reports whether wish w opens the gate at now.
func (g *Gate) allows(w *wish, now time.Time) bool {
	return w.open && now.Before(w.until) && g.suspended.Load() != w
}

// suspend closes the gate until a newer verdict: its target refused a
// connection, so whatever the last probe round said, the member's service
// is not there now. Balancers are refused at the gate (and move on)
// instead of being accepted and reset.
func (g *Gate) suspend() {
	w := g.wish.Load()
	if !w.open || g.suspended.Swap(w) == w {
		return // closed anyway, or suspended already for this verdict
	}
	g.cfg.Logger.Warn().Str("member", g.cfg.Member).Str("listen", g.cfg.Listen).Str("target", g.cfg.Target).
		Msg("gate target refused a connection: gate closed until the next verdict")
	select {
	case g.wake <- struct{}{}:
	default:
	}
	if g.cfg.OnTargetRefused != nil {
		go g.cfg.OnTargetRefused()
	}
}

// Addr is the listener's address while the gate is open, nil otherwise.
func (g *Gate) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return nil
	}
	return g.ln.Addr()
}

// WaitOpen waits until the listener is open and returns its address.
func (g *Gate) WaitOpen(ctx context.Context) (net.Addr, error) { return g.wait(ctx, true) }

// WaitClosed waits until the listener is closed.
func (g *Gate) WaitClosed(ctx context.Context) error {
	_, err := g.wait(ctx, false)
	return err
}

func (g *Gate) wait(ctx context.Context, open bool) (net.Addr, error) {
	for {
		g.mu.Lock()
		ln, ch := g.ln, g.changed
		g.mu.Unlock()
		// Done once Run has acted on the latest wish: a listener closed
		// now but about to open for an older wish does not count.
		if (ln != nil) == open && g.applied.Load() == g.wish.Load() {
			if ln == nil {
				return nil, nil
			}
			return ln.Addr(), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// currentListener is the open listener, for tests.
func (g *Gate) currentListener() *net.TCPListener {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ln
}
