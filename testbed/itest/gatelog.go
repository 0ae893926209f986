package itest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// WhoAsk asks a TCP frontend in front of simulated SuperServers who
// answers, and in which state: "ap1b backup" is a connection that reached
// a member that was not the primary. Split the answer with SplitWho.
func WhoAsk(addr string, timeout time.Duration) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		name, state, err := simulator.Who(addr, timeout)
		if err != nil {
			return "", err
		}
		return name + " " + state, nil
	}
}

// SplitWho splits a WhoAsk answer into member and state.
func SplitWho(answer string) (member, state string) {
	member, state, _ = strings.Cut(answer, " ")
	return member, state
}

// GateEvent is a gate opening or closing, as the agent logged it: the log
// line is written after the listener opened or closed, so a connection
// begun after a "closed" event's time cannot have been accepted by it.
type GateEvent struct {
	At     time.Time
	Member string
	Listen string // host:port
	Open   bool
}

// GateTimeline is every gate event of some agents, in time order.
type GateTimeline []GateEvent

// ReadGateTimeline reads the "gate open" and "gate closed" lines of agent
// logs (JSON), such as Agent.Proc.Log of each agent a test ran.
func ReadGateTimeline(logs ...string) (GateTimeline, error) {
	var tl GateTimeline
	for _, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var l struct {
				Message, Member, Listen string
				Time                    time.Time
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || (l.Message != "gate open" && l.Message != "gate closed") {
				continue
			}
			tl = append(tl, GateEvent{At: l.Time, Member: l.Member, Listen: l.Listen, Open: l.Message == "gate open"})
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].At.Before(tl[j].At) })
	return tl, nil
}

// Add records an event the logs cannot show, such as a gate that closed
// because its agent was killed.
func (tl *GateTimeline) Add(e GateEvent) {
	*tl = append(*tl, e)
	sort.SliceStable(*tl, func(i, j int) bool { return (*tl)[i].At.Before((*tl)[j].At) })
}

// OpenAt reports whether member's gate on a port ending in port (":1973")
// was open at t: its last event at or before t opened it. A gate with no
// event yet is closed (gates start closed).
func (tl GateTimeline) OpenAt(member, port string, t time.Time) bool {
	open := false
	for _, e := range tl {
		if e.At.After(t) {
			break
		}
		if e.Member == member && strings.HasSuffix(e.Listen, port) {
			open = e.Open
		}
	}
	return open
}

// First returns the first event after t for member's gate on port that
// opens (open) or closes it.
func (tl GateTimeline) First(member, port string, open bool, after time.Time) (time.Time, bool) {
	for _, e := range tl {
		if e.At.After(after) && e.Member == member && strings.HasSuffix(e.Listen, port) && e.Open == open {
			return e.At, true
		}
	}
	return time.Time{}, false
}
