package latency

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"jitter", "94.9:0s-20ms,5:100ms-400ms,0.1:1s-3s"},
		{"none", "100:0s"},
		{" 50:5ms , 50:1-2s ", "50:5ms,50:1s-2s"},
		{"100:0-1.5s", "100:0s-1.5s"},
		{"99:0-20ms,1:1m", "99:0s-20ms,1:1m0s"},
	} {
		p, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := p.String(); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
		// What String renders parses back to the same profile.
		if q, err := Parse(p.String()); err != nil || q.String() != p.String() {
			t.Errorf("%q: round trip %v %v", tc.in, q, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty profile"},
		{"fast", `part "fast": want PCT:MIN-MAX`},
		{"95:0-20ms,5:100-400ms,0.1:1-3s", "shares sum to 100.1%, want 100%"},
		{"50:0-20ms", "shares sum to 50%"},
		{"0:1ms,100:2ms", "want a percentage above 0"},
		{"-5:1ms,105:2ms", "want a percentage above 0"},
		{"NaN:1ms", "want a percentage"},
		{"100:20-10ms", "minimum above maximum"},
		{"100:soon", `duration "soon"`},
		{"100:-1ms", `range "-1ms": want MIN-MAX`},
		{"100:2m", "want 0 to 1m0s"},
		{"100:1ms-", `range "1ms-"`},
		{strings.Repeat("5:1ms,", 17) + "15:1ms", "18 parts, at most 16"},
	} {
		_, err := Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error on more than one line: %q", tc.in, err)
		}
	}
}

// TestSampleFollowsTheProfile draws many answers and compares each part's
// share with the profile's, within five standard deviations.
func TestSampleFollowsTheProfile(t *testing.T) {
	p, err := Parse("jitter")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 400_000
	var quick, spike, stall int
	for range n {
		d := p.Sample(r)
		switch {
		case d <= 20*time.Millisecond:
			quick++
		case d >= 100*time.Millisecond && d <= 400*time.Millisecond:
			spike++
		case d >= time.Second && d <= 3*time.Second:
			stall++
		default:
			t.Fatalf("%v is in no part of %s", d, p)
		}
	}
	for _, c := range []struct {
		name  string
		got   int
		share float64
	}{{"quick", quick, 0.949}, {"spike", spike, 0.05}, {"stall", stall, 0.001}} {
		want := c.share * n
		if sd := math.Sqrt(want * (1 - c.share)); math.Abs(float64(c.got)-want) > 5*sd {
			t.Errorf("%s: %d of %d, want %.0f ± %.0f", c.name, c.got, n, want, 5*sd)
		}
	}
}

func TestAtLeast(t *testing.T) {
	p, _ := Parse("jitter")
	for _, tc := range []struct {
		d    time.Duration
		want float64
	}{
		{0, 1},
		{10 * time.Millisecond, 0.949/2 + 0.051},
		{50 * time.Millisecond, 0.051},
		{250 * time.Millisecond, 0.025 + 0.001},
		{500 * time.Millisecond, 0.001},
		{2 * time.Second, 0.0005},
		{4 * time.Second, 0},
	} {
		if got := p.AtLeast(tc.d); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("P(>= %v) = %g, want %g", tc.d, got, tc.want)
		}
	}
	var zero Profile
	if zero.AtLeast(0) != 1 || zero.AtLeast(time.Millisecond) != 0 || zero.Sample(nil) != 0 {
		t.Error("the zero profile answers at once")
	}
	fixed, _ := Parse("100:5ms")
	if fixed.AtLeast(5*time.Millisecond) != 1 || fixed.AtLeast(6*time.Millisecond) != 0 {
		t.Error("a fixed part is all or nothing")
	}
}
