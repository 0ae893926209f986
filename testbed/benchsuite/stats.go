package benchsuite

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary is one figure over several runs.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// Summarise returns the median, min and max of the values (NaN when none).
func Summarise(values []float64) Summary {
	v := slices.Clone(values)
	v = slices.DeleteFunc(v, math.IsNaN)
	if len(v) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Summary{Median: med, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// Ratio is a/b of two medians (NaN when b is 0 or either is missing).
func Ratio(a, b Summary) float64 {
	if b.Median == 0 || math.IsNaN(a.Median) || math.IsNaN(b.Median) {
		return math.NaN()
	}
	return a.Median / b.Median
}

// Format renders a summary with f: "12.3 (11.0–14.1)", or just the value
// for a single run.
func (s Summary) Format(f func(float64) string) string {
	if s.N == 0 {
		return "n/a"
	}
	if s.N == 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

// Seconds is a duration as float seconds, the unit summaries of times use.
func Seconds(d time.Duration) float64 { return d.Seconds() }

// FmtDur renders seconds as µs, ms or s with three significant figures.
func FmtDur(sec float64) string {
	switch {
	case math.IsNaN(sec):
		return "n/a"
	case sec < 0:
		return "none"
	case sec == 0:
		return "0"
	case sec < 0.9995e-3: // what rounds to 1000 µs is 1 ms, not "1e+03 µs"
		return fmt.Sprintf("%.3g µs", sec*1e6)
	case sec < 0.9995:
		return fmt.Sprintf("%.3g ms", sec*1e3)
	}
	return fmt.Sprintf("%.3g s", sec)
}

// FmtRate renders a per-second figure.
func FmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// FmtRatio renders a ratio like "0.97x".
func FmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "n/a"
	}
	if r > 0 && r < 0.1 {
		return fmt.Sprintf("%.2gx", r) // 0.001x, not 0.00x
	}
	return fmt.Sprintf("%.2fx", r)
}

// FmtMB renders bytes as MB (10^6), as RSS limits are stated.
func FmtMB(b float64) string {
	if math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", b/1e6)
}

// FmtPct renders a fraction of one core as a percentage.
func FmtPct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if v < 0.1 {
		return fmt.Sprintf("%.3f%%", v*100)
	}
	return fmt.Sprintf("%.1f%%", v*100)
}

// FmtCount renders a count.
func FmtCount(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", v)
}

// Verdict says whether a target holds: "yes", "NO", or "n/a".
func Verdict(ok bool, known bool) string {
	if !known {
		return "n/a"
	}
	if ok {
		return "yes"
	}
	return "**NO**"
}

// Paired summarises a[i]/b[i]: each run of one server against the run of
// the other beside it, which shows whether a shortfall in the medians
// holds run by run or is the machine's noise. NaN when the lengths differ.
func Paired(a, b []float64) Summary {
	if len(a) != len(b) {
		return Summarise(nil)
	}
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return Summarise(r)
}
