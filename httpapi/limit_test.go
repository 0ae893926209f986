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
	// Only the limit may close a connection here: the server's own
	// header and read timeouts (2 s, 5 s) would close idle ones too, and
	// a busy machine can take that long between the test's steps.
	srv.ReadHeaderTimeout, srv.ReadTimeout = time.Hour, time.Hour
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

// closedByServer reports whether the server closed c: EOF within wait.
// The server's own timeouts are an hour here, so a connection it has not
// closed by then stays open: a short wait samples "still open", a long
// one waits out a slow machine for "closed".
func closedByServer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || (err != nil && !strings.Contains(err.Error(), "timeout"))
}

func get(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(closeWait))
	if _, err := io.WriteString(c, "GET /primary HTTP/1.0\r\n\r\n"); err != nil {
		return err.Error()
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// closeWait is how long a test waits for a close it expects: far beyond
// any scheduling delay, far below the server's timeouts (an hour here).
// openSample is how long it watches a connection it expects to stay open.
const (
	closeWait  = 30 * time.Second
	openSample = 200 * time.Millisecond
)

// waitActive waits until n held connections are in a request.
func waitActive(t *testing.T, l *ConnLimit, n int) {
	t.Helper()
	deadline := time.Now().Add(closeWait)
	for {
		l.mu.Lock()
		active := 0
		for _, ci := range l.conns {
			if ci.state == http.StateActive {
				active++
			}
		}
		l.mu.Unlock()
		if active == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections in a request, want %d", active, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitOpen(t *testing.T, l *ConnLimit, n int) {
	t.Helper()
	deadline := time.Now().Add(closeWait)
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
	if !closedByServer(a1, closeWait) {
		t.Error("the address's oldest idle connection was not closed")
	}
	if closedByServer(a2, openSample) || closedByServer(other, openSample) {
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
	if limit.Evicted() != 1 {
		t.Fatalf("%d evicted: want exactly one to make room", limit.Evicted())
	}
	// The evicted connection is closed by now (eviction closes it before
	// the new one is served); the others are not.
	closed := 0
	for _, f := range first {
		if closedByServer(f, openSample) {
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("%d of the first connections closed: want exactly the evicted one", closed)
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
	waitActive(t, limit, 1) // the server has read the request
	c := dialFrom(t, "127.0.2.1", addr)
	// Held, it would stay open for the server's hour-long timeouts.
	if !closedByServer(c, closeWait) {
		t.Fatal("a connection with no room was not closed: held or queued")
	}
	if limit.Rejected() != 1 {
		t.Fatalf("rejected %d", limit.Rejected())
	}
}
