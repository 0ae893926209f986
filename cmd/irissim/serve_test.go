package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeBadLatencyProfile: a bad --latency-profile is one line naming
// the flag, exit 2, before any port is opened.
func TestServeBadLatencyProfile(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"95:0-20ms,5:100-400ms,0.1:1-3s", "shares sum to 100.1%, want 100%"},
		{"fast", `part "fast": want PCT:MIN-MAX`},
		{"100:20-10ms", "minimum above maximum"},
		{"", "empty profile"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"serve", "--ip", "127.0.0.1", "--web", "127.0.0.1:0", "--superserver", "127.0.0.1:0",
			"--control", "127.0.0.1:0", "--latency-profile", tc.value}, &out, &errb)
		msg := errb.String()
		if code != 2 || !strings.HasPrefix(msg, "irissim serve: invalid --latency-profile") || !strings.Contains(msg, tc.want) ||
			strings.Count(msg, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q", tc.value, code, msg)
		}
	}
}
