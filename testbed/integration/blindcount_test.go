package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// Counting what the first law is about, from the clients' side: which
// member answered each connection and in which state (the simulated
// SuperServer says both), set against the gates' own timeline (the agents'
// logs). A connection answered by a member that was not the primary is
// allowed only while that member's gate was still open, i.e. before its
// agent had seen the change (the one poll it takes); one begun after the
// gate's "gate closed" line breaks the law.

// gatePort is the SuperServer gate's port, the one these tests send
// clients to (examples/nginx/stream-gate.conf, haproxy/agent-check.cfg).
const gatePort = ":1973"

// reach counts a run's connections.
type reach struct {
	total, answered int
	byMember        map[string]int
	inPoll          int      // answered by a non-primary whose gate was still open
	violations      []string // answered by a non-primary after its gate closed
	errors          map[string]int
}

func countReach(samples []itest.Sample, tl itest.GateTimeline) reach {
	r := reach{byMember: map[string]int{}, errors: map[string]int{}}
	for _, s := range samples {
		r.total++
		if s.Err != nil {
			r.errors[errCause(s.Err)]++
			continue
		}
		r.answered++
		member, state := itest.SplitWho(s.Member)
		r.byMember[member+" "+state]++
		if state == "primary" {
			continue
		}
		if tl.OpenAt(member, gatePort, s.At) {
			r.inPoll++
		} else {
			r.violations = append(r.violations, fmt.Sprintf("%s answered as %s a connection begun at %s, after its gate closed",
				member, state, s.At.Format("15:04:05.000000")))
		}
	}
	return r
}

func (r reach) failed() int {
	n := 0
	for _, c := range r.errors {
		n += c
	}
	return n
}

func (r reach) String() string {
	return fmt.Sprintf("%d connections: %d answered (%s), %d reached a non-primary during its agent's poll, %d after its gate closed; %d failed (%s)",
		r.total, r.answered, countsOf(r.byMember), r.inPoll, len(r.violations), r.failed(), countsOf(r.errors))
}

// countsOf prints a count map in a stable order.
func countsOf(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// errCause names why a client connection failed.
func errCause(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused by the balancer (not listening)"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed without an answer"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return err.Error()
}

// between returns the samples begun in [from, to); a zero to means no end.
func between(samples []itest.Sample, from, to time.Time) []itest.Sample {
	var out []itest.Sample
	for _, s := range samples {
		if !s.At.Before(from) && (to.IsZero() || s.At.Before(to)) {
			out = append(out, s)
		}
	}
	return out
}
