package agentload

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRequireLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9798":       true,
		"127.77.3.1:9797":      true,
		"[::1]:9798":           true,
		"localhost:9798":       true,
		"10.0.0.5:9798":        false,
		"192.168.1.1:80":       false,
		"8.8.8.8:53":           false,
		"example.com:80":       false,
		"[::ffff:127.0.0.1]:1": true,
		"127.0.0.1":            false,
	} {
		if err := RequireLoopback(addr); (err == nil) != ok {
			t.Errorf("%s: err=%v, want ok=%v", addr, err, ok)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Options{Addr: "127.0.0.1:1", Kind: Agent, Workers: 1, Duration: time.Second}
	for name, mod := range map[string]func(*Options){
		"remote":       func(o *Options) { o.Addr = "10.1.2.3:9798" },
		"kind":         func(o *Options) { o.Kind = "udp" },
		"workers":      func(o *Options) { o.Workers = 0 },
		"too many":     func(o *Options) { o.Workers = MaxWorkers + 1 },
		"no duration":  func(o *Options) { o.Duration = 0 },
		"too long":     func(o *Options) { o.Duration = MaxDuration + time.Second },
		"http no path": func(o *Options) { o.Kind, o.Send = HTTP, "primary" },
		"negative":     func(o *Options) { o.Rate = -1 },
	} {
		o := good
		mod(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, o)
		}
	}
	o := good
	if err := o.Validate(); err != nil || o.MaxChecks != MaxChecks || o.Timeout != 2*time.Second {
		t.Errorf("defaults: %v %+v", err, o)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 99: 99, 100: 100, 1: 1, 0: 1} {
		if got := Percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty")
	}
}

// lineServer answers each connection with the line it was sent, upper-cased
// into a reply, and counts connections.
func lineServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte("up " + strings.TrimSpace(line) + "\n"))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &n
}

func TestRunAgentBoundedByCount(t *testing.T) {
	addr, conns := lineServer(t)
	res, err := Run(context.Background(), Options{
		Addr: addr, Kind: Agent, Send: "primary\n", Expect: "up primary",
		Workers: 4, Duration: 10 * time.Second, MaxChecks: 200,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checks != 200 || res.Errors != 0 || conns.Load() != 200 {
		t.Fatalf("want 200 checks on 200 connections: %+v, %d connections", res, conns.Load())
	}
	if res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.Max || res.PerSec <= 0 {
		t.Fatalf("inconsistent latencies: %+v", res)
	}
}

func TestRunCountsUnexpectedReplies(t *testing.T) {
	addr, _ := lineServer(t)
	res, err := Run(context.Background(), Options{
		Addr: addr, Kind: Agent, Send: "standby\n", Expect: "up primary",
		Workers: 1, Duration: 10 * time.Second, MaxChecks: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checks != 0 || res.Errors != 5 || res.Unwanted != "up standby" {
		t.Fatalf("%+v", res)
	}
}

func TestRunPacedByEvery(t *testing.T) {
	addr, conns := lineServer(t)
	// 5 balancers checking every 50ms for 500ms: about 50 checks.
	res, err := Run(context.Background(), Options{
		Addr: addr, Kind: Agent, Send: "primary\n", Workers: 5,
		Every: 50 * time.Millisecond, Duration: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checks < 25 || res.Checks > 60 || int64(res.Checks) != conns.Load() {
		t.Fatalf("want about 50 paced checks, got %d (%d connections)", res.Checks, conns.Load())
	}
	if res.Elapsed > 3*time.Second {
		t.Fatalf("duration bound not kept: %v", res.Elapsed)
	}
}

func TestRunPacedByRate(t *testing.T) {
	addr, _ := lineServer(t)
	res, err := Run(context.Background(), Options{
		Addr: addr, Kind: Agent, Send: "primary\n", Workers: 2,
		Rate: 100, Duration: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checks < 25 || res.Checks > 60 {
		t.Fatalf("want about 50 checks at 100/s for 0.5s, got %d", res.Checks)
	}
}

func TestRunHTTP(t *testing.T) {
	var paths atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.Method + " " + r.URL.Path + " " + r.Proto)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{
		Addr: srv.Listener.Addr().String(), Kind: HTTP, Send: "/csp/mirror_status.cxw", Expect: "503",
		Workers: 2, Duration: 10 * time.Second, MaxChecks: 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checks != 20 || res.Errors != 0 {
		t.Fatalf("%+v", res)
	}
	if got := paths.Load(); got != "GET /csp/mirror_status.cxw HTTP/1.0" {
		t.Fatalf("request was %v", got)
	}
}

func TestRunRefusesRemote(t *testing.T) {
	if _, err := Run(context.Background(), Options{Addr: "192.0.2.1:9798", Kind: Agent, Workers: 1, Duration: time.Second}); err == nil {
		t.Fatal("a non-loopback target must be refused")
	}
}

func TestRunErrorsOnRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	res, err := Run(context.Background(), Options{Addr: addr, Kind: Agent, Workers: 1, Duration: 5 * time.Second, MaxChecks: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 3 || res.Checks != 0 || res.LastErr == "" {
		t.Fatalf("%+v", res)
	}
}
