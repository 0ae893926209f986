package benchsuite

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// switchFigures are one run of one failover scenario, in seconds after t0.
type switchFigures struct {
	firstNew float64 // first request answered by the new primary (NaN: never)
	lastOld  float64 // last request answered by, or hung on, the old primary (0: none)
	failed   float64
}

// figuresOf measures a switch from ap1a to ap1b at t0. When the old primary
// hangs, a request that failed after 100 ms or more was sent to it (it hung
// until the client gave up or haproxy cut it): a balancer with no server
// for a request refuses it in well under a millisecond. Otherwise a failure
// is a refusal, however long a loaded machine took to deliver it.
func figuresOf(samples []itest.Sample, t0 time.Time, hang bool) switchFigures {
	sw := itest.Analyse(samples, t0, "ap1a", "ap1b")
	f := switchFigures{firstNew: math.NaN(), lastOld: max(sw.LastOld, 0).Seconds(), failed: float64(sw.Failed)}
	if sw.NewOK {
		f.firstNew = sw.FirstNew.Seconds()
	}
	for _, smp := range samples {
		if hang && !smp.At.Before(t0) && smp.Err != nil && smp.Took >= 100*time.Millisecond {
			f.lastOld = max(f.lastOld, smp.At.Sub(t0).Seconds())
		}
	}
	return f
}

func TestFiguresOf(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	refused, cut := errors.New("refused"), errors.New("EOF")
	samples := []itest.Sample{
		{At: at(-20), Member: "ap1a", Took: time.Millisecond},     // before t0: ignored
		{At: at(10), Member: "ap1a", Took: time.Millisecond},      // old primary still answers
		{At: at(20), Err: cut, Took: 400 * time.Millisecond},      // hung on the old primary
		{At: at(150), Err: refused, Took: 120 * time.Millisecond}, // slow failure
		{At: at(200), Err: refused, Took: time.Millisecond},       // refused at once
		{At: at(250), Member: "ap1b", Took: time.Millisecond},     // new primary
		{At: at(300), Member: "ap1b", Took: time.Millisecond},
	}
	f := figuresOf(samples, t0, false)
	if f.firstNew != 0.25 || f.lastOld != 0.01 || f.failed != 3 {
		t.Errorf("switch: %+v", f)
	}
	// In a hang, slow failures were sent to the hung member; quick ones not.
	f = figuresOf(samples, t0, true)
	if f.firstNew != 0.25 || f.lastOld != 0.15 || f.failed != 3 {
		t.Errorf("hang: %+v", f)
	}
	// Nothing reaches the new primary, nothing after t0 reaches the old one.
	f = figuresOf(samples[:1], t0, false)
	if !math.IsNaN(f.firstNew) || f.lastOld != 0 || f.failed != 0 {
		t.Errorf("quiet: %+v", f)
	}
}
