package itest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Firehose is a loopback TARGET that sends up to Limit bytes on every
// connection it accepts, as fast as the peer takes them, and records how
// far each got: behind a client that never reads, it shows how much the
// path between them holds before the sender has to wait.
type Firehose struct {
	Addr  string
	Limit int64
	ln    net.Listener
	wg    sync.WaitGroup

	mu    sync.Mutex
	conns []*hoseConn
}

type hoseConn struct {
	c    net.Conn
	sent atomic.Int64
	last atomic.Int64 // UnixNano of the last write that completed
}

// StartFirehose listens on addr until the test ends.
func StartFirehose(t testing.TB, addr string, limit int64) *Firehose {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &Firehose{Addr: ln.Addr().String(), Limit: limit, ln: ln}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(f.Close)
	return f
}

func (f *Firehose) serve() {
	defer f.wg.Done()
	chunk := make([]byte, 64<<10)
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		hc := &hoseConn{c: c}
		hc.last.Store(time.Now().UnixNano())
		f.mu.Lock()
		f.conns = append(f.conns, hc)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			for hc.sent.Load() < f.Limit {
				n, err := c.Write(chunk)
				hc.sent.Add(int64(n))
				hc.last.Store(time.Now().UnixNano())
				if err != nil {
					return
				}
			}
		}()
	}
}

// Conns is how many connections the firehose has accepted.
func (f *Firehose) Conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// Stalled waits up to d until every connection accepted from the from-th
// on has made no progress for quiet (or reached Limit), and returns the
// bytes each sent.
func (f *Firehose) Stalled(from int, quiet, d time.Duration) (sent []int64, ok bool) {
	deadline := time.Now().Add(d)
	for {
		f.mu.Lock()
		conns := append([]*hoseConn(nil), f.conns[min(from, len(f.conns)):]...)
		f.mu.Unlock()
		sent = sent[:0]
		ok = true
		for _, hc := range conns {
			n := hc.sent.Load()
			sent = append(sent, n)
			if n < f.Limit && time.Since(time.Unix(0, hc.last.Load())) < quiet {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) {
			return sent, ok
		}
		time.Sleep(quiet / 4)
	}
}

// Close stops the server and its connections.
func (f *Firehose) Close() {
	f.ln.Close()
	f.mu.Lock()
	for _, hc := range f.conns {
		hc.c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
