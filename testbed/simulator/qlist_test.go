package simulator

import (
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// The simulator's qlist line must read, through the agent's own parser,
// as the role the member is in.
func TestQListLineParsesAsItsState(t *testing.T) {
	want := map[State]probe.Outcome{Primary: probe.Primary, Backup: probe.NotPrimary, Async: probe.NotPrimary, Hang: probe.Error, Down: probe.Error}
	for _, st := range States {
		line := QListLine("IRIS", st, time.Date(2026, 11, 25, 9, 12, 44, 0, time.UTC))
		q, err := probe.ParseQList(line)
		if err != nil {
			t.Fatalf("%s: %v: %q", st, err, line)
		}
		if out, reason := q.Classify(); out != want[st] {
			t.Errorf("%s: %v (%s), want %v", st, out, reason, want[st])
		}
	}
}
