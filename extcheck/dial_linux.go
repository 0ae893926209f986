package extcheck

import (
	"io"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// conn is a TCP connection on a non-blocking socket driven by poll(2)
// against one deadline. The net package would do the same through its
// poller (epoll, a netpoll thread, timers), which a process asking one
// question pays for at start and gains nothing from.
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
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ip := addr.Addr(); ip.Is4() || ip.Is4In6() {
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: ip.Unmap().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: ip.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
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

func (c *conn) connect(sa unix.Sockaddr) error {
	for {
		err := unix.Connect(c.fd, sa)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EINPROGRESS:
		default:
			return err
		}
		break
	}
	if err := c.wait(unix.POLLOUT); err != nil {
		return err
	}
	soErr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if soErr != 0 {
		return unix.Errno(soErr)
	}
	return nil
}

// wait blocks in poll(2) until fd is ready for events or the deadline.
func (c *conn) wait(events int16) error {
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: events}}
	for {
		left := time.Until(c.deadline)
		if left <= 0 {
			return timeoutError{}
		}
		// Round up: a zero timeout would spin until the deadline.
		n, err := unix.Poll(fds, int((left+time.Millisecond-1)/time.Millisecond))
		switch {
		case err == unix.EINTR:
		case err != nil:
			return err
		case n > 0:
			return nil // ready, or an error the next call reports
		}
	}
}

func (c *conn) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(c.fd, p)
		switch err {
		case nil:
			if n == 0 && len(p) > 0 {
				return 0, io.EOF
			}
			return n, nil
		case unix.EINTR:
		case unix.EAGAIN:
			if err := c.wait(unix.POLLIN); err != nil {
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
		n, err := unix.SendmsgN(c.fd, p[done:], nil, nil, unix.MSG_NOSIGNAL)
		switch err {
		case nil:
			done += n
		case unix.EINTR:
		case unix.EAGAIN:
			if err := c.wait(unix.POLLOUT); err != nil {
				return done, &opError{"write", err}
			}
		default:
			return done, &opError{"write", err}
		}
	}
	return done, nil
}

func (c *conn) Close() error { return unix.Close(c.fd) }
