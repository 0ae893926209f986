package extcheck

import (
	"io"
	"net/netip"
	"syscall"
	"time"
	"unsafe"
)

// conn is a TCP connection on a non-blocking socket driven by ppoll(2)
// against one deadline. The net package would do the same through its
// poller (epoll, a netpoll thread, timers), which a process asking one
// question pays for at start and gains nothing from. Only the syscall
// package: golang.org/x/sys/unix would bring encoding/binary and reflect
// into the binary, and every page of it costs at exec.
type conn struct {
	fd       int
	deadline time.Time
}

// timeoutError is what every operation returns once the deadline passed.
type timeoutError struct{}

func (timeoutError) Error() string { return "timeout" }
func (timeoutError) Timeout() bool { return true }

// opError names the operation that failed, as net's errors do.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

func dial(addr netip.AddrPort, deadline time.Time) (io.ReadWriteCloser, error) {
	op := "connect " + addr.String()
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ip := addr.Addr(); ip.Is4() || ip.Is4In6() {
		sa = &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: ip.Unmap().As4()}
	} else {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(addr.Port()), Addr: ip.As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, &opError{"socket", err}
	}
	c := &conn{fd: fd, deadline: deadline}
	if err := c.connect(sa); err != nil {
		c.Close()
		return nil, &opError{op, err}
	}
	return c, nil
}

func (c *conn) connect(sa syscall.Sockaddr) error {
	for {
		err := syscall.Connect(c.fd, sa)
		switch err {
		case nil:
			return nil
		case syscall.EINTR:
			continue
		case syscall.EINPROGRESS:
		default:
			return err
		}
		break
	}
	if err := c.wait(pollOut); err != nil {
		return err
	}
	soErr, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		return err
	}
	if soErr != 0 {
		return syscall.Errno(soErr)
	}
	return nil
}

// poll(2) events; the same values on every Linux architecture.
const (
	pollIn  = 0x1
	pollOut = 0x4
)

// pollFd is struct pollfd.
type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// wait blocks in ppoll(2) until fd is ready for events or the deadline.
func (c *conn) wait(events int16) error {
	fds := [1]pollFd{{fd: int32(c.fd), events: events}}
	for {
		left := time.Until(c.deadline)
		if left <= 0 {
			return timeoutError{}
		}
		ts := syscall.NsecToTimespec(int64(left))
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case errno == syscall.EINTR:
		case errno != 0:
			return errno
		case n > 0:
			return nil // ready, or an error the next call reports
		}
	}
}

func (c *conn) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, p)
		switch err {
		case nil:
			if n == 0 && len(p) > 0 {
				return 0, io.EOF
			}
			return n, nil
		case syscall.EINTR:
		case syscall.EAGAIN:
			if err := c.wait(pollIn); err != nil {
				return 0, &opError{"read", err}
			}
		default:
			return 0, &opError{"read", err}
		}
	}
}

// Write writes all of p. MSG_NOSIGNAL: a peer that closed early is an
// EPIPE error here, not a SIGPIPE.
func (c *conn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.SendmsgN(c.fd, p[done:], nil, nil, syscall.MSG_NOSIGNAL)
		switch err {
		case nil:
			done += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			if err := c.wait(pollOut); err != nil {
				return done, &opError{"write", err}
			}
		default:
			return done, &opError{"write", err}
		}
	}
	return done, nil
}

func (c *conn) Close() error { return syscall.Close(c.fd) }
