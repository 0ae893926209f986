package haproxy

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
)

// AgentServer answers haproxy agent-checks from the current snapshot.
//
// Each connection is answered by the accepting goroutine itself: read what
// haproxy already sent (its agent-send string arrives with the handshake's
// last ACK), write one line, close. Nothing in that path can block, so a
// hostile client cannot hold a goroutine, and the number of connections in
// progress is bounded by the number of acceptors.
type AgentServer struct {
	Snapshot func() *checker.Snapshot
	Logger   zerolog.Logger
	// Acceptors is how many goroutines accept in parallel (default GOMAXPROCS).
	Acceptors int
	// Counter, if set, is told about every check answered.
	Counter Counter

	cache   atomic.Pointer[agentReplies]
	answers atomic.Uint64
}

// Counter counts answers for the metrics. It runs on every check, so it
// must not block or allocate (an atomic add).
type Counter interface {
	// CountAgentCheck counts one answer; known is false when haproxy sent
	// a word that names no check.
	CountAgentCheck(c checker.Check, ok, known bool)
}

// agentReplies holds the rendered line of every check for one snapshot.
type agentReplies struct {
	snap  *checker.Snapshot
	lines [][]byte // indexed by checker.Check
	ok    []bool   // indexed by checker.Check
}

// Answers is the number of checks answered since start.
func (s *AgentServer) Answers() uint64 { return s.answers.Load() }

// replies returns the lines for the current snapshot, rendering them once
// per snapshot. Two goroutines may render the same snapshot; both results
// are equal, so the race is harmless.
func (s *AgentServer) replies() *agentReplies {
	snap := s.Snapshot()
	r := s.cache.Load()
	if r != nil && r.snap == snap {
		return r
	}
	checks := checker.Checks()
	r = &agentReplies{snap: snap, lines: make([][]byte, len(checks)), ok: make([]bool, len(checks))}
	for _, c := range checks {
		v := snap.Evaluate(c)
		r.lines[c], r.ok[c] = Reply(v), v.OK
	}
	s.cache.Store(r)
	return r
}

// Answer returns the reply line for what the client sent.
func (s *AgentServer) Answer(sent []byte) []byte {
	line, _, _, _ := s.answer(sent)
	return line
}

func (s *AgentServer) answer(sent []byte) (line []byte, c checker.Check, ok, known bool) {
	c, word, known := ParseSend(sent)
	if !known {
		return Down("unknown check " + word), c, false, false
	}
	r := s.replies()
	return r.lines[c], c, r.ok[c], true
}

// Serve accepts on ln until ctx is done or ln fails. Serve owns ln: cancel
// ctx to stop it (on Linux it also accepts on a duplicate of ln's socket,
// which Serve closes with ln).
func (s *AgentServer) Serve(ctx context.Context, ln net.Listener) error {
	n := s.Acceptors
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	fl := listenerFD(ln) // nil: use the portable net.Conn path
	closeAll := func() {
		ln.Close()
		if fl != nil {
			fl.Close()
		}
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer stop()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if fl != nil {
				errs <- s.fdAcceptLoop(fl)
			} else {
				errs <- s.connAcceptLoop(ln)
			}
		}()
	}
	wg.Wait()
	closeAll()
	if ctx.Err() != nil {
		return nil
	}
	return <-errs
}

// connAcceptLoop answers checks one after another until ln is closed:
// the portable path, for any listener on any platform.
func (s *AgentServer) connAcceptLoop(ln net.Listener) error {
	buf := make([]byte, 256)
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			var ne net.Error
			if errors.As(err, &ne) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				s.backOff(&delay, err)
				continue
			}
			return err
		}
		delay = 0
		s.handle(conn, buf)
	}
}

// backOff sleeps after an accept failure such as running out of file
// descriptors, longer each time in a row, and keeps serving.
func (s *AgentServer) backOff(delay *time.Duration, err error) {
	*delay = min(max(2**delay, 5*time.Millisecond), time.Second)
	s.Logger.Warn().Err(err).Dur("retry_in", *delay).Msg("agent-check accept failed")
	time.Sleep(*delay)
}

func (s *AgentServer) handle(conn net.Conn, buf []byte) {
	defer conn.Close()
	n := readBuffered(conn, buf)
	reply, c, ok, known := s.answer(buf[:n])
	if s.Counter != nil {
		s.Counter.CountAgentCheck(c, ok, known)
	}
	// A fresh socket's send buffer takes a short line at once; the deadline
	// only guards against the impossible.
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(reply) // EPIPE/ECONNRESET: haproxy already gave up; nothing to do
	s.answers.Add(1)
}

// readBuffered returns what the peer has already sent, without waiting.
func readBuffered(conn net.Conn, buf []byte) int {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Read(func(fd uintptr) bool {
		m, err := syscall.Read(int(fd), buf)
		if err == nil && m > 0 {
			n = m
		}
		return true // never wait for more
	})
	return n
}
