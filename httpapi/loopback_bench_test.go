package httpapi

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/irismirror/iris-mirror-agent/checker"
)

// BenchmarkHTTPLoopback is one keep-alive GET /primary through a real
// net/http server over loopback, for the agent's server and handler and for
// a minimal server answering a constant 200. The client writes raw bytes
// on one connection and allocates nothing per request, so the difference
// in allocs/op between the two is what the agent adds to net/http.
func BenchmarkHTTPLoopback(b *testing.B) {
	body := []byte("primary\n")
	for _, bc := range []struct {
		name string
		srv  func() *http.Server
	}{
		{"agent", func() *http.Server { return NewServer(handlerFor(checker.Primary)) }},
		{"baseline", func() *http.Server {
			return &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(body)
			})}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := bc.srv()
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /primary HTTP/1.1\r\nHost: agent\r\n\r\n")
			buf := make([]byte, 4096)
			roundTrip(b, c, req, buf)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				roundTrip(b, c, req, buf)
			}
		})
	}
}

var (
	headEnd = []byte("\r\n\r\n")
	clHdr   = []byte("\r\nContent-Length: ")
)

// roundTrip writes req and reads one whole response (headers and a
// Content-Length body) into buf.
func roundTrip(b *testing.B, c net.Conn, req, buf []byte) {
	if _, err := c.Write(req); err != nil {
		b.Fatal(err)
	}
	n, want := 0, -1
	for want < 0 || n < want {
		m, err := c.Read(buf[n:])
		if err != nil {
			if err == io.EOF {
				b.Fatalf("connection closed after %q", buf[:n])
			}
			b.Fatal(err)
		}
		n += m
		if want < 0 {
			end := bytes.Index(buf[:n], headEnd)
			if end < 0 {
				continue
			}
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200")) {
				b.Fatalf("unexpected response %q", buf[:n])
			}
			i := bytes.Index(buf[:end+2], clHdr)
			if i < 0 {
				b.Fatalf("no Content-Length in %q", buf[:end])
			}
			j := i + len(clHdr) + bytes.IndexByte(buf[i+len(clHdr):end+2], '\r')
			cl, err := strconv.Atoi(string(buf[i+len(clHdr) : j]))
			if err != nil {
				b.Fatal(err)
			}
			want = end + len(headEnd) + cl
		}
	}
}
