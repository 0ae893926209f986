package haproxy

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// TestLateSendIsAnswered: a client whose agent-send arrives after the
// agent accepted gets the answer to its own check, intact (no reset).
func TestLateSendIsAnswered(t *testing.T) {
	addr := startAgent(t, snapshot(probe.NotPrimary, "mirror_status 503 FAILED"))
	for _, delay := range []time.Duration{0, time.Millisecond, 10 * time.Millisecond, SendWait / 2} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_, _ = c.Write([]byte("standby\n"))
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != "up ready 100%\n" {
			t.Errorf("send after %v: %q %v, want the standby check's answer", delay, b, err)
		}
	}
}

// TestSilentConnectionsAreBounded: many clients that send nothing are each
// answered after SendWait at most, and the waiting goroutines stay bounded.
func TestSilentConnectionsAreBounded(t *testing.T) {
	addr := startAgent(t, snapshot(probe.Primary, "mirror_status 200 SUCCESS"))
	var conns []net.Conn
	for range maxWaiting + 100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	for _, c := range conns {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != "up ready 100%\n" {
			t.Fatalf("silent client: %q %v", b, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("answering %d silent clients took %v", len(conns), d)
	}
}
