package haproxy

import (
	"testing"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// BenchmarkAnswer is the reply selection of one agent check: parse what
// haproxy sent, pick the line rendered for the current snapshot. It must
// not allocate: the lines are rendered once per snapshot.
func BenchmarkAnswer(b *testing.B) {
	primary := snapshot(probe.Primary, "mirror_status 200 SUCCESS")
	standby := snapshot(probe.NotPrimary, "mirror_status 503 FAILED")
	for _, bc := range []struct {
		name string
		snap *checker.Snapshot
		send string
	}{
		{"primary/nothing-sent", primary, ""},
		{"primary/send-primary", primary, "primary\n"},
		{"standby/send-primary", standby, "primary\n"},
		{"standby/send-STANDBY", standby, "STANDBY\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &AgentServer{Snapshot: func() *checker.Snapshot { return bc.snap }}
			send := []byte(bc.send)
			s.Answer(send) // render the cache once, as the first check after a snapshot does
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if len(s.Answer(send)) == 0 {
					b.Fatal("empty reply")
				}
			}
		})
	}
}
