package benchsuite

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Summary
	}{
		{[]float64{3, 1, 2}, Summary{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{4, 1, 3, 2}, Summary{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{[]float64{5}, Summary{Median: 5, Min: 5, Max: 5, N: 1}},
		{[]float64{math.NaN(), 7, 9}, Summary{Median: 8, Min: 7, Max: 9, N: 2}},
	} {
		if got := Summarise(tc.in); got != tc.want {
			t.Errorf("Summarise(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if s := Summarise(nil); s.N != 0 || !math.IsNaN(s.Median) || s.Format(FmtRate) != "n/a" {
		t.Errorf("empty: %+v", s)
	}
	in := []float64{3, 1, 2}
	Summarise(in)
	if in[0] != 3 {
		t.Error("Summarise must not reorder its input")
	}
}

func TestRatio(t *testing.T) {
	if r := Ratio(Summary{Median: 9, N: 1}, Summary{Median: 10, N: 1}); r != 0.9 {
		t.Errorf("ratio %v", r)
	}
	if r := Ratio(Summary{Median: 9, N: 1}, Summary{Median: 0, N: 1}); !math.IsNaN(r) {
		t.Errorf("ratio to zero %v, want NaN", r)
	}
	if FmtRatio(math.NaN()) != "n/a" || FmtRatio(0.904) != "0.90x" || FmtRatio(0.001003) != "0.001x" {
		t.Error("FmtRatio")
	}
}

func TestFormats(t *testing.T) {
	s := Summarise([]float64{0.000120, 0.000250, 0.0011})
	if got := s.Format(FmtDur); got != "250 µs (120 µs–1.1 ms)" {
		t.Errorf("duration summary %q", got)
	}
	for v, want := range map[float64]string{-1: "none", 0: "0", 2.5: "2.5 s", 0.0123: "12.3 ms", 0.9996: "1 s", 0.0009996: "1 ms", 0.000999: "999 µs"} {
		if got := FmtDur(v); got != want {
			t.Errorf("FmtDur(%v) = %q, want %q", v, got, want)
		}
	}
	if FmtRate(12345.6) != "12346" || FmtRate(1.234) != "1.23" || FmtRate(45.67) != "45.7" {
		t.Error("FmtRate")
	}
	if FmtMB(12.34e6) != "12.3 MB" || FmtPct(0.0012) != "0.120%" || FmtPct(0.35) != "35.0%" {
		t.Errorf("FmtMB/FmtPct: %s %s %s", FmtMB(12.34e6), FmtPct(0.0012), FmtPct(0.35))
	}
	if Verdict(true, true) != "yes" || !strings.Contains(Verdict(false, true), "NO") || Verdict(true, false) != "n/a" {
		t.Error("Verdict")
	}
	if Seconds(1500*time.Millisecond) != 1.5 {
		t.Error("Seconds")
	}
}

func TestPaired(t *testing.T) {
	p := Paired([]float64{9, 10, 12}, []float64{10, 10, 10})
	if p.N != 3 || p.Min != 0.9 || p.Median != 1 || p.Max != 1.2 {
		t.Errorf("Paired = %+v, want 3 ratios 0.9/1/1.2", p)
	}
	if p := Paired([]float64{1, 2}, []float64{1}); p.N != 0 || !math.IsNaN(p.Median) {
		t.Errorf("Paired of unequal runs = %+v, want none", p)
	}
}
