//go:build linux

package haproxy

import (
	"context"
	"net"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// BenchmarkAgentCheckLoopback is one whole agent check over loopback, as
// haproxy does it: connect, send "primary\n", read the line, close. The
// client uses raw system calls and allocates nothing, so allocs/op is what
// the server allocates per check.
func BenchmarkAgentCheckLoopback(b *testing.B) {
	snap := snapshot(probe.Primary, "mirror_status 200 SUCCESS")
	for _, bc := range []struct {
		name string
		wrap func(net.Listener) net.Listener
	}{
		{"listener-fd", func(ln net.Listener) net.Listener { return ln }},
		{"net.Conn", func(ln net.Listener) net.Listener { return opaqueListener{ln} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			s := &AgentServer{Snapshot: func() *checker.Snapshot { return snap }, Logger: zerolog.Nop()}
			done := make(chan struct{})
			go func() { _ = s.Serve(ctx, bc.wrap(ln)); close(done) }()
			defer func() { cancel(); <-done }()

			sa := &syscall.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
			send, buf := []byte("primary\n"), make([]byte, 256)
			if n := rawCheck(b, sa, send, buf); string(buf[:n]) != ReplyUp {
				b.Fatalf("got %q", buf[:n])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rawCheck(b, sa, send, buf)
			}
		})
	}
}

// rawCheck does one agent check with blocking system calls and returns the
// length of the reply it read into buf.
func rawCheck(b *testing.B, sa *syscall.SockaddrInet4, send, buf []byte) int {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(fd)
	// Quick ACK off, as haproxy does: "primary\n" leaves with the
	// handshake's last ACK and is queued when the agent accepts.
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Connect(fd, sa); err != nil {
		b.Fatal(err)
	}
	if _, err := syscall.Write(fd, send); err != nil {
		b.Fatal(err)
	}
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err != nil || m <= 0 {
			break
		}
		n += m
		if buf[n-1] == '\n' {
			break
		}
	}
	if n == 0 || buf[n-1] != '\n' {
		b.Fatalf("incomplete reply %q", buf[:n])
	}
	return n
}
