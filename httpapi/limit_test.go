package httpapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// limitServer serves h through LimitConns(max) on a loopback port.
func limitServer(t *testing.T, max int, h http.Handler) (string, *ConnLimit) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h)
	lln, limit := LimitConns(srv, ln, max)
	go func() { _ = srv.Serve(lln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), limit
}

func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c (EOF within 500 ms).
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || (err != nil && !strings.Contains(err.Error(), "timeout"))
}

func get(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "GET /primary HTTP/1.0\r\n\r\n"); err != nil {
		return err.Error()
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func waitOpen(t *testing.T, l *ConnLimit, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for l.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("holding %d connections, want %d", l.Open(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConnLimitPerAddressEvictsOldestIdle(t *testing.T) {
	addr, limit := limitServer(t, 8, handlerFor("primary")) // 2 per address
	a1 := dialFrom(t, "127.0.0.11", addr)
	waitOpen(t, limit, 1)
	a2 := dialFrom(t, "127.0.0.11", addr)
	waitOpen(t, limit, 2)
	other := dialFrom(t, "127.0.0.12", addr)
	waitOpen(t, limit, 3)
	a3 := dialFrom(t, "127.0.0.11", addr) // the address's third: its oldest goes
	if got := get(t, a3); got != "HTTP/1.0 200 OK" {
		t.Fatalf("new connection: %q", got)
	}
	if !closedByServer(a1) {
		t.Error("the address's oldest idle connection was not closed")
	}
	if closedByServer(a2) || closedByServer(other) {
		t.Error("a newer connection, or another address's, was closed")
	}
	if limit.Evicted() != 1 || limit.Rejected() != 0 {
		t.Errorf("evicted %d, rejected %d", limit.Evicted(), limit.Rejected())
	}
}

func TestConnLimitGlobalEvictsFromBusiestAddress(t *testing.T) {
	addr, limit := limitServer(t, 4, handlerFor("primary")) // 1 per address
	var first []net.Conn
	for i := range 4 {
		first = append(first, dialFrom(t, fmt.Sprintf("127.0.1.%d", 1+i), addr))
		waitOpen(t, limit, i+1)
	}
	c := dialFrom(t, "127.0.1.9", addr)
	if got := get(t, c); got != "HTTP/1.0 200 OK" {
		t.Fatalf("new address when full: %q", got)
	}
	closed := 0
	for _, f := range first {
		if closedByServer(f) {
			closed++
		}
	}
	if closed != 1 || limit.Evicted() != 1 {
		t.Fatalf("%d closed, %d evicted: want exactly one to make room", closed, limit.Evicted())
	}
}

func TestConnLimitRejectsWhenAllBusy(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	addr, limit := limitServer(t, 4, h) // 1 per address
	busy := dialFrom(t, "127.0.2.1", addr)
	_, _ = io.WriteString(busy, "GET / HTTP/1.0\r\n\r\n") // in a request: may not be evicted
	waitOpen(t, limit, 1)
	time.Sleep(100 * time.Millisecond) // the server reads the request: now active
	c := dialFrom(t, "127.0.2.1", addr)
	start := time.Now()
	if !closedByServer(c) || time.Since(start) > 400*time.Millisecond {
		t.Fatal("a connection with no room was not closed at once")
	}
	if limit.Rejected() != 1 {
		t.Fatalf("rejected %d", limit.Rejected())
	}
}
