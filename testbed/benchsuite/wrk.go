package benchsuite

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what one wrk run reports.
type WrkResult struct {
	PerSec   float64
	P50, P99 time.Duration
	Requests int
	Errors   int     // socket errors and non-2xx/3xx responses
	Bytes    float64 // Transfer/sec, in bytes per second
}

// WrkArgs is the wrk command line for conns connections for d, with
// keep-alive or a new connection per request (closeConn).
func WrkArgs(url string, conns int, d time.Duration, closeConn bool) []string {
	threads := min(conns, 2) // two cores, shared with the server
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second)/time.Second))),
		"--timeout", "2s", "--latency"}
	if closeConn {
		args = append(args, "-H", "Connection: close")
	}
	return append(args, url)
}

// ParseWrk reads wrk --latency output.
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	var haveRate, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk requests/sec %q: %w", f[1], err)
			}
			r.PerSec, haveRate = v, true
		case len(f) == 2 && f[0] == "Transfer/sec:":
			b, err := parseWrkBytes(f[1])
			if err != nil {
				return r, err
			}
			r.Bytes = b
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.P50, have50 = d, true
			} else {
				r.P99, have99 = d, true
			}
		case len(f) >= 5 && f[1] == "requests" && f[2] == "in":
			r.Requests, _ = strconv.Atoi(f[0])
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			// "Socket errors: connect 0, read 0, write 0, timeout 0"
			for i := 2; i+1 < len(f); i += 2 {
				n, _ := strconv.Atoi(strings.TrimSuffix(f[i+1], ","))
				r.Errors += n
			}
		case len(f) == 5 && f[0] == "Non-2xx": // "Non-2xx or 3xx responses: 7"
			n, _ := strconv.Atoi(f[4])
			r.Errors += n
		}
	}
	if !haveRate || !have50 || !have99 {
		return r, fmt.Errorf("wrk output without Requests/sec and latency distribution:\n%s", out)
	}
	return r, nil
}

// parseWrkDuration reads wrk's "123.45us", "1.20ms", "2.00s", "1.00m".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				break
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("wrk duration %q", s)
}

// parseWrkBytes reads wrk's "512.00B", "1.21KB", "123.45MB", "1.10GB"
// (binary multiples).
func parseWrkBytes(s string) (float64, error) {
	units := []struct {
		suffix string
		unit   float64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				break
			}
			return v * u.unit, nil
		}
	}
	return 0, fmt.Errorf("wrk transfer %q", s)
}
