package checker

// damper counts consecutive good and bad results against thresholds, as
// Consul's checks do: fall bad results in a row take a thing down, rise
// good ones in a row bring it back. It only counts; the Machine decides
// what a threshold means for the role.
type damper struct {
	rise, fall int
	good, bad  int // current streaks; one of them is always 0
}

func newDamper(rise, fall int) damper {
	return damper{rise: max(rise, 1), fall: max(fall, 1)}
}

// failed records a bad result and reports whether the fall threshold is
// reached.
func (d *damper) failed() bool {
	d.good = 0
	d.bad++
	return d.bad >= d.fall
}

// passed records a good result and reports whether the rise threshold is
// reached.
func (d *damper) passed() bool {
	d.bad = 0
	d.good++
	return d.good >= d.rise
}
