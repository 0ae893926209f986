package gate

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/relay"
)

// BenchmarkForward compares a client talking to a loopback server
// directly with the same client going through an open gate:
//
//	bulk     one connection streaming 256 KiB writes to a sink (MB/s)
//	echo     64-byte request/response round trips on one connection (ns/op)
//	connect  a new connection per request: connect, one line each way, close
//	         (nginx without upstream keepalive works like this)
//
//	go test -run '^$' -bench Forward -benchmem ./gate/
func BenchmarkForward(b *testing.B) {
	servers := map[string]func(c *net.TCPConn){
		"bulk": sink,
		"echo": echo,
		"connect": func(c *net.TCPConn) {
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil {
				_, _ = io.WriteString(c, line)
			}
		},
	}
	clients := map[string]func(b *testing.B, addr string){
		"bulk": benchBulk, "echo": benchEcho, "connect": benchConnect,
	}
	for _, kind := range []string{"bulk", "echo", "connect"} {
		b.Run(kind, func(b *testing.B) {
			srv := startBenchServer(b, servers[kind])
			b.Run("direct", func(b *testing.B) { clients[kind](b, srv.Addr().String()) })
			b.Run("relay", func(b *testing.B) {
				addr := startRelay(b, srv.Addr().String())
				clients[kind](b, addr)
			})
			b.Run("gate", func(b *testing.B) {
				g, addr, stop := startOpen(b, srv.Addr().String())
				defer stop()
				clients[kind](b, addr)
				b.StopTimer()
				if st := g.Stats(); st.DialFailures != 0 || st.Sessions == 0 {
					b.Fatalf("the gate did not forward cleanly: %+v", st)
				}
			})
		})
	}
}

// startOpen runs an open gate on a free loopback port in front of target
// and returns it with its address; stop ends it and waits.
func startOpen(tb testing.TB, target string) (g *Gate, addr string, stop func()) {
	tb.Helper()
	g, err := New(Config{Listen: "127.0.0.1:0", Target: target})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Run(ctx)
	}()
	g.Set(true, time.Now().Add(time.Hour), "benchmark")
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	a, err := g.WaitOpen(wctx)
	if err != nil {
		cancel()
		<-done
		tb.Fatalf("gate did not open: %v", err)
	}
	return g, a.String(), func() { cancel(); <-done }
}

// sink reads until EOF and answers the byte count.
func sink(c *net.TCPConn) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		m, err := c.Read(buf)
		n += int64(m)
		if err != nil {
			break
		}
	}
	_, _ = io.WriteString(c, strconv.FormatInt(n, 10)+"\n")
}

func startBenchServer(b *testing.B, handle func(c *net.TCPConn)) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	b.Cleanup(func() { ln.Close(); <-done })
	return ln
}

func benchBulk(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = c.(*net.TCPConn).CloseWrite()
	got, err := bufio.NewReader(c).ReadString('\n') // every byte reached the sink
	b.StopTimer()
	if want := strconv.Itoa(b.N*len(buf)) + "\n"; err != nil || got != want {
		b.Fatalf("sink got %q %v, want %q", got, err, want)
	}
}

func benchEcho(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, back := make([]byte, 64), make([]byte, 64)
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, back); err != nil {
			b.Fatal(err)
		}
	}
}

func benchConnect(b *testing.B, addr string) {
	line := []byte("GET\n")
	buf := make([]byte, 16)
	for range b.N {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(line); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:len(line)]); err != nil {
			b.Fatal(err)
		}
		// A reset close leaves no TIME_WAIT behind, so long runs do not
		// run out of loopback ports.
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
}

// startRelay runs the smallest Go relay in front of target: the floor any
// user-space gate stands on.
func startRelay(b *testing.B, target string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = relay.Serve(ln, target) }()
	b.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}
