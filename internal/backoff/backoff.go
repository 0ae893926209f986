// Package backoff holds the delay after a failed accept, shared by the
// listeners that must keep serving when the process runs out of file
// descriptors (the agent-check port and the gates).
package backoff

import "time"

// Bounds of the accept back-off.
const (
	AcceptMin = 5 * time.Millisecond
	AcceptMax = time.Second
)

// Accept returns the delay after another failed accept in a row: twice the
// last one, from AcceptMin up to AcceptMax. Start from 0.
func Accept(last time.Duration) time.Duration {
	return min(max(2*last, AcceptMin), AcceptMax)
}
