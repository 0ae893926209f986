package integration

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// examples/caddy/Caddyfile, unchanged, with the real caddy (Debian's 2.6)
// in front of the reference layout's web gates: the scenarios the nginx
// examples go through, the seed's reference scenarios, and caddy validate.

// caddyTimings are the example's own settings, read from the file so that
// every bound below follows it.
type caddyTimings struct {
	healthInterval, tryDuration, tryInterval time.Duration
}

func readCaddyTimings(t *testing.T) caddyTimings {
	t.Helper()
	f, err := os.Open(itest.Example(t, "caddy/Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := map[string]time.Duration{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		switch fields[0] {
		case "health_interval", "lb_try_duration", "lb_try_interval":
			d, err := time.ParseDuration(fields[1])
			if err != nil {
				t.Fatalf("Caddyfile: %s %s: %v", fields[0], fields[1], err)
			}
			found[fields[0]] = d
		}
	}
	if len(found) != 3 {
		t.Fatalf("Caddyfile: want health_interval, lb_try_duration and lb_try_interval, found %v", found)
	}
	return caddyTimings{found["health_interval"], found["lb_try_duration"], found["lb_try_interval"]}
}

// agentTiming returns a duration flag of fastAgent (the agents' explicit
// --interval and --timeout).
func agentTiming(t *testing.T, flag string) time.Duration {
	t.Helper()
	for i := 0; i+1 < len(fastAgent); i++ {
		if fastAgent[i] == flag {
			d, err := time.ParseDuration(fastAgent[i+1])
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("fastAgent has no %s", flag)
	return 0
}

// caddyGate derives the bounds for Caddy from the agents' flags and the
// Caddyfile's settings.
func caddyGate(t *testing.T) gateBounds {
	t.Helper()
	c := readCaddyTimings(t)
	round := agentTiming(t, "--interval") + agentTiming(t, "--timeout") // the agent sees a change within one round
	// Caddy's own error, when no member takes a request: it retries for
	// lb_try_duration; a request longer than that by more than one retry
	// and a check was held by a member.
	own := c.tryDuration + c.tryInterval + c.healthInterval
	b := gateBounds{
		balancer: "caddy",
		// The new primary's agent sees it, Caddy's next check passes, a
		// waiting request tries again.
		firstNew: round + c.healthInterval + c.tryInterval,
		// The old primary's gate closes within a round of its agent.
		lastOld: round,
		// The hung primary's agent gives up within a round (or two, if
		// the hang began mid-round) and its gate cuts the requests.
		hang:      2 * round,
		errorFast: time.Second, // with no primary, clients get an answer within 1 s
		held:      own,
	}
	if own >= b.errorFast {
		t.Fatalf("Caddyfile: lb_try_duration %v + lb_try_interval %v leave no answer within %v when no member is primary", c.tryDuration, c.tryInterval, b.errorFast)
	}
	return b
}

// startCaddy runs the example in front of l, its addresses from the
// environment (the file's {$VAR:default}), on l.front:80.
func startCaddy(t *testing.T, l *layout) {
	t.Helper()
	env := []string{"CADDY_BIND_ADDR=" + l.front, "CADDY_HTTP_PORT=80"}
	for _, m := range []string{"ap1a", "ap1b", "ap2a", "ap2b"} {
		env = append(env, strings.ToUpper(m)+"_HOST="+l.members[m].IP)
	}
	itest.StartCaddy(t, itest.Example(t, "caddy/Caddyfile"), env, l.front+":80")
}

func caddyAsk(l *layout) (ap1, ap2 askFunc) {
	return itest.HTTPAsk("http://"+l.front+"/ap1/csp/mirrorns/api/get", clientTimeout),
		itest.HTTPAsk("http://"+l.front+"/ap2/csp/mirrorns/api/get", clientTimeout)
}

// TestCaddyGate runs examples/caddy/Caddyfile through the failover
// scenarios of the nginx examples. From Caddy's start, no request reaches
// a backup: before Caddy's first checks the backups' gates refuse and
// Caddy retries on the other member.
func TestCaddyGate(t *testing.T) {
	b := caddyGate(t)
	l := startGateLayout(t)
	ap1, ap2 := caddyAsk(l)
	s1 := &itest.Sampler{Every: 5 * time.Millisecond, Ask: ap1}
	s2 := &itest.Sampler{Every: 5 * time.Millisecond, Ask: ap2}
	s1.Start(time.Minute)
	s2.Start(time.Minute)
	startCaddy(t, l)
	started := time.Now()
	waitAsk(t, ap1, "ap1a", 10*time.Second)
	waitAsk(t, ap2, "ap2a", 10*time.Second)
	// Sampled for a few health intervals past Caddy's start: its first
	// checks, and the requests before them.
	time.Sleep(4 * readCaddyTimings(t).healthInterval)
	answered := 0
	for _, smp := range append(s1.Stop(), s2.Stop()...) {
		if smp.Err != nil {
			continue
		}
		answered++
		if smp.Member != "ap1a" && smp.Member != "ap2a" {
			t.Errorf("request %v after caddy listened answered by %s, a backup", smp.At.Sub(started).Round(time.Millisecond), smp.Member)
		}
	}
	t.Logf("caddy Caddyfile start: %d requests answered in its first %v, all by the primaries", answered, time.Since(started).Round(time.Millisecond))
	if answered == 0 {
		t.Error("no request answered through caddy")
	}
	gateScenarios(t, l, "Caddyfile", ap1, ap2, func(err string) bool { return err == "HTTP 502" || err == "HTTP 503" }, b)
}

func caddyDoor(t *testing.T) frontDoor {
	return frontDoor{
		name:       "caddy with the agents' gates (examples/caddy/Caddyfile)",
		agentFlags: func(t *testing.T) func(*itest.Member) []string { return exampleAgent(t, "caddy/Caddyfile") },
		start: func(t *testing.T, l *layout) (askFunc, askFunc) {
			startCaddy(t, l)
			return caddyAsk(l)
		},
		ownError: caddyGate(t).held,
	}
}

func TestReferenceScenariosCaddy(t *testing.T) {
	runReferenceScenarios(t, caddyDoor(t))
}

// TestCaddyValidate checks the example as shipped (its defaults, no
// environment) with caddy validate, and that caddy fmt leaves it as is.
func TestCaddyValidate(t *testing.T) {
	path := itest.Example(t, "caddy/Caddyfile")
	out, err := itest.CaddyValidate(t, path, nil)
	if err != nil || !strings.Contains(out, "Valid configuration") {
		t.Fatalf("caddy validate %s: %v\n%s", path, err, out)
	}
	bin := itest.RequireTool(t, "caddy")
	formatted, err := itest.Run([]string{bin, "fmt", path}, nil, 30*time.Second)
	if err != nil {
		t.Fatalf("caddy fmt: %v\n%s", err, formatted)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if formatted != string(orig) {
		t.Errorf("caddy fmt would change %s (run caddy fmt --overwrite)", path)
	}
}
