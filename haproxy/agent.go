package haproxy

import (
	"bytes"
	"context"
	"io"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/internal/backoff"
)

// AgentServer answers haproxy agent-checks from the current snapshot.
//
// haproxy sends its agent-send word with the handshake's last ACK, so
// the accepting goroutine usually finds the whole question in the socket,
// writes one line and closes: nothing in that path can block, and the
// checks in progress are bounded by the number of acceptors. A client that
// sent nothing yet (a check without agent-send, socat, a TCP proxy in
// between) is handed to a bounded set of waiters that give its word up to
// SendWait to arrive, then answer what it asked, or the default question
// (primary) if it asked nothing.
type AgentServer struct {
	Snapshot func() *checker.Snapshot
	Logger   zerolog.Logger
	// Acceptors is how many goroutines accept in parallel (default GOMAXPROCS).
	Acceptors int
	// Counter, if set, is told about every question answered.
	Counter Counter
	// SendWait is how long a client that sent no full line with its
	// handshake may take to send it; 0 answers such clients at once.
	SendWait time.Duration
	// MaxWaiting bounds the clients waited for at once (default
	// DefaultMaxWaiting); beyond it they are answered at once.
	MaxWaiting int
	// Now is the clock the lease is read with; nil means time.Now.
	Now func() time.Time

	cache   atomic.Pointer[agentReplies]
	answers atomic.Uint64
	waiting atomic.Int64
	waited  atomic.Uint64 // answered after waiting for the word
	full    atomic.Uint64 // not waited for: MaxWaiting reached
}

// DefaultMaxWaiting is MaxWaiting's default: far more than any set of
// balancers without agent-send has checks in flight, far fewer than the
// descriptors the agent keeps.
const DefaultMaxWaiting = 256

// maxSend is the most of a client's line read: the words are short.
const maxSend = 256

// Counter counts answers for the metrics. It runs on every check, so it
// must not block or allocate (an atomic add).
type Counter interface {
	// CountAgentCheck counts one answer; known is false when the client
	// sent a word that names no question.
	CountAgentCheck(q checker.Question, ok, known bool)
}

// agentReplies holds the rendered line of every question for one snapshot.
type agentReplies struct {
	snap  *checker.Snapshot
	lines [checker.NumQuestions][]byte
	ok    [checker.NumQuestions]bool
}

// AgentStats counts the agent-check port's answers.
type AgentStats struct {
	Answers uint64 `json:"answers"`
	Waited  uint64 `json:"answered_after_waiting_for_the_word"`
	Full    uint64 `json:"answered_unwaited_max_waiting_reached"`
	Waiting int64  `json:"waiting_now"`
}

// Stats returns the counters.
func (s *AgentServer) Stats() AgentStats {
	return AgentStats{Answers: s.answers.Load(), Waited: s.waited.Load(), Full: s.full.Load(), Waiting: s.waiting.Load()}
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
	r = &agentReplies{snap: snap}
	for _, q := range checker.Questions() {
		v := snap.Verdict(q, snap.At) // as decided, lease aside
		r.lines[q], r.ok[q] = Reply(v), v.OK
	}
	s.cache.Store(r)
	return r
}

// Answer returns the reply line for what the client sent, at the time of
// the call.
func (s *AgentServer) Answer(sent []byte) []byte {
	line, _, _, _ := s.answer(sent)
	return line
}

func (s *AgentServer) answer(sent []byte) (line []byte, q checker.Question, ok, known bool) {
	q, word, known := ParseSend(sent)
	if !known {
		return Down("unknown check " + word), q, false, false
	}
	r := s.replies()
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if v := r.snap.Verdict(q, now()); v.Stale {
		return Reply(v), q, false, true
	}
	return r.lines[q], q, r.ok[q], true
}

// reply answers what was sent and counts it.
func (s *AgentServer) reply(sent []byte) []byte {
	line, q, ok, known := s.answer(sent)
	if s.Counter != nil {
		s.Counter.CountAgentCheck(q, ok, known)
	}
	s.answers.Add(1)
	return line
}

// complete reports whether sent holds the client's whole question: a line
// ending, or as much as is ever read.
func complete(sent []byte) bool {
	return len(sent) >= maxSend || bytes.IndexByte(sent, '\n') >= 0
}

// reserveWait takes a waiter's place, or counts a client answered unwaited.
func (s *AgentServer) reserveWait() bool {
	if s.SendWait <= 0 {
		return false
	}
	limit := s.MaxWaiting
	if limit <= 0 {
		limit = DefaultMaxWaiting
	}
	if s.waiting.Add(1) > int64(limit) {
		s.waiting.Add(-1)
		s.full.Add(1)
		return false
	}
	return true
}

// waitWord reads the rest of the client's line from c, whose read deadline
// is set, on top of what was already there. It returns at the line's end,
// at EOF, at the deadline or after maxSend bytes, with what it has.
func waitWord(c io.Reader, have []byte) []byte {
	buf := make([]byte, maxSend)
	n := copy(buf, have)
	for n < maxSend && bytes.IndexByte(buf[:n], '\n') < 0 {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	return buf[:n]
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
	buf := make([]byte, maxSend)
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
	*delay = backoff.Accept(*delay)
	s.Logger.Warn().Err(err).Dur("retry_in", *delay).Msg("agent-check accept failed")
	time.Sleep(*delay)
}

func (s *AgentServer) handle(conn net.Conn, buf []byte) {
	accepted := time.Now()
	n, eof := readBuffered(conn, buf)
	if !eof && !complete(buf[:n]) && s.reserveWait() {
		have := append([]byte(nil), buf[:n]...)
		go func() {
			defer s.waiting.Add(-1)
			defer conn.Close()
			_ = conn.SetReadDeadline(accepted.Add(s.SendWait))
			sent := waitWord(conn, have)
			s.waited.Add(1)
			s.write(conn, s.reply(sent))
		}()
		return
	}
	defer conn.Close()
	s.write(conn, s.reply(buf[:n]))
}

func (s *AgentServer) write(conn net.Conn, line []byte) {
	// A fresh socket's send buffer takes a short line at once; the deadline
	// only guards against the impossible.
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(line) // EPIPE/ECONNRESET: haproxy already gave up; nothing to do
}

// readBuffered returns what the peer has already sent, without waiting,
// and whether it has closed its side.
func readBuffered(conn net.Conn, buf []byte) (n int, eof bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	_ = rc.Read(func(fd uintptr) bool {
		m, err := syscall.Read(int(fd), buf)
		switch {
		case err == nil && m > 0:
			n = m
		case err == nil && m == 0:
			eof = true
		}
		return true // never wait for more
	})
	return n, eof
}
