// Package latency describes how long a simulated IRIS takes to answer:
// a profile is a mix of uniform ranges, each with the share of answers
// that fall in it, such as 94.9:0-20ms,5:100-400ms,0.1:1-3s. The
// simulator (irissim serve --latency-profile) and the trade-off
// simulation (testbed/tradeoff) draw from the same profile.
package latency

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Part is one range of a profile: Share percent of answers take a time
// drawn uniformly from [Min, Max].
type Part struct {
	Share    float64 // percent, > 0
	Min, Max time.Duration
}

// Profile is a mix of parts whose shares sum to 100. The zero Profile
// answers at once.
type Profile struct {
	Parts []Part
}

// Named profiles, for flags and reports.
var named = map[string]string{
	"none": "100:0s",
	// The trade-off's jitter: most answers quick, one in twenty a spike of
	// a few hundred milliseconds, one in a thousand a stall of seconds.
	"jitter": "94.9:0-20ms,5:100-400ms,0.1:1-3s",
}

// Names lists the named profiles.
func Names() []string { return []string{"none", "jitter"} }

// maxParts and maxLatency bound what a profile may say.
const (
	maxParts   = 16
	maxLatency = time.Minute
)

// Parse reads a named profile or PCT:MIN-MAX[,PCT:MIN-MAX...] (a part may
// be PCT:D for a fixed time; a bare number for MIN takes MAX's unit, as in
// 1-3s). Shares are percentages and must sum to 100.
func Parse(s string) (Profile, error) {
	text := strings.TrimSpace(s)
	if n, ok := named[text]; ok {
		text = n
	}
	if text == "" {
		return Profile{}, errors.New("empty profile (want a name: none, jitter; or PCT:MIN-MAX,...)")
	}
	fields := strings.Split(text, ",")
	if len(fields) > maxParts {
		return Profile{}, fmt.Errorf("%d parts, at most %d", len(fields), maxParts)
	}
	var p Profile
	sum := 0.0
	for _, f := range fields {
		part, err := parsePart(strings.TrimSpace(f))
		if err != nil {
			return Profile{}, fmt.Errorf("part %q: %w", f, err)
		}
		p.Parts = append(p.Parts, part)
		sum += part.Share
	}
	if math.Abs(sum-100) > 1e-6 {
		return Profile{}, fmt.Errorf("shares sum to %s%%, want 100%%", strconv.FormatFloat(sum, 'g', 6, 64))
	}
	return p, nil
}

func parsePart(f string) (Part, error) {
	pct, rng, ok := strings.Cut(f, ":")
	if !ok {
		return Part{}, errors.New("want PCT:MIN-MAX or PCT:DURATION")
	}
	share, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	if err != nil || math.IsNaN(share) || share <= 0 || share > 100 {
		return Part{}, fmt.Errorf("share %q: want a percentage above 0 and at most 100", pct)
	}
	lo, hi, isRange := strings.Cut(strings.TrimSpace(rng), "-")
	if !isRange {
		hi = lo
	}
	if strings.TrimSpace(lo) == "" || strings.TrimSpace(hi) == "" {
		return Part{}, fmt.Errorf("range %q: want MIN-MAX or one duration, each 0 or more", rng)
	}
	max, err := parseLatency(hi, "")
	if err != nil {
		return Part{}, err
	}
	min, err := parseLatency(lo, unitOf(hi))
	if err != nil {
		return Part{}, err
	}
	if min > max {
		return Part{}, fmt.Errorf("range %s: minimum above maximum", rng)
	}
	return Part{Share: share, Min: min, Max: max}, nil
}

// unitOf returns the trailing unit of a duration string ("ms" of "400ms").
func unitOf(s string) string {
	s = strings.TrimSpace(s)
	i := strings.LastIndexAny(s, "0123456789.")
	return s[i+1:]
}

// parseLatency reads a duration between 0 and maxLatency; a bare number
// takes unit.
func parseLatency(s, unit string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil && unit != "" {
		s += unit
	}
	d, err := time.ParseDuration(s)
	if err != nil && s == "0" {
		d, err = 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a duration such as 20ms or 1.5s", s)
	}
	if d < 0 || d > maxLatency {
		return 0, fmt.Errorf("duration %s: want 0 to %v", d, maxLatency)
	}
	return d, nil
}

// Sample draws one latency.
func (p Profile) Sample(r *rand.Rand) time.Duration {
	if len(p.Parts) == 0 {
		return 0
	}
	x := r.Float64() * 100
	part := p.Parts[len(p.Parts)-1]
	for _, pt := range p.Parts {
		if x < pt.Share {
			part = pt
			break
		}
		x -= pt.Share
	}
	if part.Max == part.Min {
		return part.Min
	}
	return part.Min + time.Duration(r.Int64N(int64(part.Max-part.Min)+1))
}

// AtLeast is the probability that one answer takes d or more.
func (p Profile) AtLeast(d time.Duration) float64 {
	if len(p.Parts) == 0 {
		return boolProb(d <= 0)
	}
	sum := 0.0
	for _, pt := range p.Parts {
		switch {
		case d <= pt.Min:
			sum += pt.Share
		case d > pt.Max:
		default: // inside a range: its uniform share above d
			sum += pt.Share * float64(pt.Max-d) / float64(pt.Max-pt.Min)
		}
	}
	return sum / 100
}

func boolProb(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// String renders the profile in the form Parse reads.
func (p Profile) String() string {
	if len(p.Parts) == 0 {
		return "none"
	}
	parts := make([]string, len(p.Parts))
	for i, pt := range p.Parts {
		r := pt.Min.String()
		if pt.Max != pt.Min {
			r += "-" + pt.Max.String()
		}
		parts[i] = strconv.FormatFloat(pt.Share, 'g', -1, 64) + ":" + r
	}
	return strings.Join(parts, ",")
}
