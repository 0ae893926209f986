//go:build linux && (amd64 || arm64)

package haproxy

import (
	"net"
	"os"
	"syscall"
	"time"
)

// fdListener is a duplicate of a TCP listener's socket, opened so checks
// can be accepted with raw accept4: a listener's own RawConn only offers
// Control, while an *os.File's offers Read, which waits on Go's poller.
type fdListener struct {
	f    *os.File
	rc   syscall.RawConn
	addr net.Addr
}

// listenerFD returns the fast path for ln, or nil when ln is not a TCP
// listener (or cannot be duplicated): the caller then uses net.Conn.
func listenerFD(ln net.Listener) *fdListener {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil
	}
	f, err := tl.File() // a non-blocking duplicate, registered with the poller
	if err != nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	return &fdListener{f: f, rc: rc, addr: ln.Addr()}
}

// Close closes the duplicate; the socket closes once ln is closed too.
func (fl *fdListener) Close() { fl.f.Close() }

// fdAcceptLoop answers checks one after another with four system calls
// each (accept4, read, write, close) and no allocation, where ln.Accept
// builds a net.Conn per check: the fd wrapper, two addresses, a poller
// registration and a finalizer, 9 allocations (BenchmarkAgentCheckLoopback).
// Waiting for the next connection still parks on Go's poller, so an idle
// acceptor holds no thread.
func (s *AgentServer) fdAcceptLoop(fl *fdListener) error {
	buf := make([]byte, 256)
	var (
		nfd   int
		errno syscall.Errno
		delay time.Duration
	)
	// One closure per acceptor, reused for every check: a closure made per
	// call would escape to the heap.
	accept := func(fd uintptr) bool {
		for {
			r, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, fd, 0, 0,
				syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
			switch e {
			case 0:
				nfd, errno = int(r), 0
				return true
			case syscall.EAGAIN:
				return false // park on the poller until a connection comes
			case syscall.EINTR, syscall.ECONNABORTED:
				continue // interrupted, or the client left before we took it
			default:
				nfd, errno = -1, e
				return true
			}
		}
	}
	for {
		if err := fl.rc.Read(accept); err != nil {
			return err // closed
		}
		if errno != 0 {
			switch errno {
			case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
				s.backOff(&delay, errno)
				continue
			}
			return &net.OpError{Op: "accept", Net: "tcp", Addr: fl.addr, Err: errno}
		}
		delay = 0
		s.answerFD(nfd, buf)
	}
}

// answerFD answers one check on an accepted non-blocking socket and closes
// it. The read takes only what haproxy already sent, like readBuffered on
// the portable path; a client that has sent no full line yet is handed to
// a waiter (see AgentServer.SendWait).
func (s *AgentServer) answerFD(fd int, buf []byte) {
	accepted := time.Now()
	n, err := syscall.Read(fd, buf)
	eof := err == nil && n == 0
	if err != nil || n < 0 {
		n = 0
	}
	if !eof && !complete(buf[:n]) && s.reserveWait() {
		s.waitFD(fd, append([]byte(nil), buf[:n]...), accepted)
		return
	}
	// A fresh socket's send buffer takes a short line at once; EPIPE or
	// ECONNRESET means haproxy already gave up, and there is nothing to do.
	_, _ = syscall.Write(fd, s.reply(buf[:n]))
	_ = syscall.Close(fd)
}

// waitFD gives the client on fd until accepted+SendWait to finish its
// line, on Go's poller, then answers and closes fd.
func (s *AgentServer) waitFD(fd int, have []byte, accepted time.Time) {
	go func() {
		defer s.waiting.Add(-1)
		f := os.NewFile(uintptr(fd), "agent-check") // non-blocking: the poller waits
		defer f.Close()
		_ = f.SetReadDeadline(accepted.Add(s.SendWait))
		sent := waitWord(f, have)
		s.waited.Add(1)
		_ = f.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = f.Write(s.reply(sent))
	}()
}
