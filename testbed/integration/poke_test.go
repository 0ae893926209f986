package integration

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// TestPokePromotionLatency measures how long a promotion takes to show on
// the agent's /primary, with and without the poke that ^ZMIRROR's
// NotifyBecomePrimary sends, at a 1 s interval. The poke runs as
// IRIS would run it: the agent binary, started for the one command.
func TestPokePromotionLatency(t *testing.T) {
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "ap1b", l.IP(1), "backup")
	sock := filepath.Join(t.TempDir(), "admin.sock")
	a := itest.StartAgent(t, m, "--interval", "1s", "--timeout", "500ms", "--admin-socket", sock)
	primary := "http://" + a.HTTPAddr() + "/primary"
	itest.WaitHTTP(t, primary, 503, 5*time.Second)
	agentBin, _ := itest.Binaries(t)

	const trials = 6
	measure := func(poke bool) []time.Duration {
		var out []time.Duration
		for range trials {
			// Start at a random phase of the agent's poll timer.
			time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
			t0 := time.Now()
			m.Set(t, "primary")
			if poke {
				if out, err := itest.Run([]string{agentBin, "poke", "--admin-socket", sock}, nil, 5*time.Second); err != nil || !strings.HasPrefix(out, "ok") {
					t.Fatalf("poke: %v %q", err, out)
				}
			}
			itest.WaitHTTP(t, primary, 200, 5*time.Second)
			out = append(out, time.Since(t0))
			m.Set(t, "backup")
			itest.WaitHTTP(t, primary, 503, 5*time.Second)
		}
		return out
	}
	without := measure(false)
	with := measure(true)
	t.Logf("promotion seen on /primary at --interval 1s, %d trials each (median, max): without poke %v, %v; with poke %v, %v",
		trials, median(without), slices.Max(without).Round(time.Millisecond), median(with), slices.Max(with).Round(time.Millisecond))
	if slices.Max(with) > 500*time.Millisecond {
		t.Errorf("with a poke the promotion took up to %v, want well under the 1 s interval", slices.Max(with))
	}
	if slices.Max(without) > 2*time.Second {
		t.Errorf("without a poke the promotion took %v, more than interval + timeout", slices.Max(without))
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}
