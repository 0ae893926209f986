package simulator

import (
	"net/http"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/latency"
)

// TestLatency: mirror_status waits the drawn time and then answers in the
// state the member is in by then; the application path does not wait.
func TestLatency(t *testing.T) {
	web := freeAddr(t)
	m := NewMember("x", web, "", Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := latency.Parse("100:200ms")
	if err != nil {
		t.Fatal(err)
	}
	m.SetLatency(p, 1)
	c := &http.Client{Timeout: 5 * time.Second}
	status := func(path string) (int, time.Duration) {
		start := time.Now()
		resp, err := c.Get("http://" + web + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	if code, took := status("/csp/mirror_status.cxw"); code != 200 || took < 200*time.Millisecond {
		t.Errorf("primary: %d after %v, want 200 after at least 200ms", code, took)
	}
	// Demoted while the request waits: the answer is the new state's.
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = m.SetState(Backup)
	}()
	if code, took := status("/csp/mirror_status.cxw"); code != 503 || took < 200*time.Millisecond {
		t.Errorf("demoted while waiting: %d after %v, want 503 after at least 200ms", code, took)
	}
	// The application is not IRIS's mirror_status page: answered at once
	// (within the request's own timeout, a bound far below the latency
	// would be machine speed; the latency is a whole second here).
	long, _ := latency.Parse("100:1s")
	m.SetLatency(long, 1)
	if code, took := status("/ap1/csp/mirrorns/api/get"); code != 200 || took >= time.Second {
		t.Errorf("application: %d after %v, want 200 before the 1s latency", code, took)
	}
}

// TestLatencyWhileGoingDown: a request waiting out its latency on a member
// that goes down is dropped, not answered.
func TestLatencyWhileGoingDown(t *testing.T) {
	web := freeAddr(t)
	m := NewMember("x", web, "", Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, _ := latency.Parse("100:2s")
	m.SetLatency(p, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = m.SetState(Down)
	}()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + web + "/csp/mirror_status.cxw")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d by a member that went down", resp.StatusCode)
	}
}
