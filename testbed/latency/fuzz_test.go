package latency

import (
	"strings"
	"testing"
)

// FuzzParse: any text parses or fails with one line; what parses renders
// back to a profile that parses the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"jitter", "none", "94.9:0-20ms,5:100-400ms,0.1:1-3s", "100:5ms", "50:1-2s,50:0", "1e2:1ns", "100:1ms-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("%q: error on more than one line: %q", s, err)
			}
			return
		}
		q, err := Parse(p.String())
		if err != nil || q.String() != p.String() {
			t.Fatalf("%q: %s renders back as %s (%v)", s, p, q, err)
		}
	})
}
