package benchsuite

import (
	"slices"
	"testing"
	"time"
)

// wrk 4.1.0 output, as Debian's package prints it.
const wrkOut = `Running 1s test @ http://127.80.3.1:9797/primary
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.50ms    2.10ms  30.12ms   91.00%
    Req/Sec    22.10k     3.01k   26.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.60ms
     90%    3.20ms
     99%   10.41ms
  43982 requests in 1.00s, 5.12MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  43950.12
Transfer/sec:      5.12MB
`

func TestParseWrk(t *testing.T) {
	r, err := ParseWrk(wrkOut)
	if err != nil {
		t.Fatal(err)
	}
	want := WrkResult{PerSec: 43950.12, P50: 812 * time.Microsecond, P99: 10410 * time.Microsecond, Requests: 43982, Errors: 22, Bytes: 5.12 * (1 << 20)}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	if _, err := ParseWrk("unable to connect to 127.0.0.1:9797 Connection refused\n"); err == nil {
		t.Fatal("output without figures must be an error")
	}
	if _, err := ParseWrk("Requests/sec: 10\n  50%  1.00xs\n  99%  1ms\n"); err == nil {
		t.Fatal("bad duration must be an error")
	}
}

func TestParseWrkDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"5.00us": 5 * time.Microsecond, "1.20ms": 1200 * time.Microsecond, "2.00s": 2 * time.Second, "1.00m": time.Minute} {
		if got, err := parseWrkDuration(s); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", s, got, err, want)
		}
	}
}

func TestWrkArgs(t *testing.T) {
	got := WrkArgs("http://127.0.0.1:9797/primary", 1, 1500*time.Millisecond, true)
	want := []string{"-t", "1", "-c", "1", "-d", "2s", "--timeout", "2s", "--latency", "-H", "Connection: close", "http://127.0.0.1:9797/primary"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	got = WrkArgs("u", 1024, 10*time.Second, false)
	if !slices.Equal(got[:6], []string{"-t", "2", "-c", "1024", "-d", "10s"}) || slices.Contains(got, "-H") {
		t.Errorf("got %q", got)
	}
}

func TestParseWrkBytes(t *testing.T) {
	for in, want := range map[string]float64{"512.00B": 512, "1.50KB": 1536, "2.00MB": 2 << 20, "1.00GB": 1 << 30} {
		if got, err := parseWrkBytes(in); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := parseWrkBytes("lots"); err == nil {
		t.Error("nonsense accepted")
	}
}
