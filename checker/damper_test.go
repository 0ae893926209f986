package checker

import "testing"

func TestDamper(t *testing.T) {
	d := newDamper(2, 3)
	steps := []struct {
		good bool
		want bool // threshold reached
	}{
		{false, false}, {false, false}, {true, false}, // a good result resets the bad streak
		{false, false}, {false, false}, {false, true}, {false, true}, // fall 3 reached, and stays reached
		{true, false}, {true, true}, {true, true}, // rise 2
		{false, false}, {true, false}, {true, true}, // a bad result resets the good streak
	}
	for i, s := range steps {
		var got bool
		if s.good {
			got = d.passed()
		} else {
			got = d.failed()
		}
		if got != s.want {
			t.Fatalf("step %d (good=%v): %v, want %v (good %d bad %d)", i, s.good, got, s.want, d.good, d.bad)
		}
	}
	if z := newDamper(0, -1); z.rise != 1 || z.fall != 1 {
		t.Errorf("thresholds below 1: %+v", z)
	}
}
