package monitor

import (
	"context"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// BenchmarkSnapshot is what every balancer answer starts with: one atomic
// load of the published snapshot, from many goroutines at once.
func BenchmarkSnapshot(b *testing.B) {
	m := New([]Prober{mirror(func(context.Context) probe.Result {
		return probe.Result{Outcome: probe.Primary, Reason: "ok"}
	})}, opts(time.Second))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m.Snapshot() == nil {
				b.Fatal("no snapshot")
			}
		}
	})
}
