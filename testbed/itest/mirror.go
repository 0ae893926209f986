package itest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Member is a simulated IRIS member (irissim) on its own loopback address
// with IRIS's default ports: web 52773, SuperServer 1972, control 52780.
type Member struct {
	Name string
	IP   string
	Proc *Proc
}

// WebAddr is the member's web server (mirror_status.cxw and the app).
func (m *Member) WebAddr() string { return m.IP + ":52773" }

// SuperServerAddr is the member's SuperServer.
func (m *Member) SuperServerAddr() string { return m.IP + ":1972" }

// StartMember runs irissim for one member, with extra serve flags (such
// as --latency-profile), and waits for its control port.
func StartMember(t testing.TB, name, ip, state string, extra ...string) *Member {
	t.Helper()
	_, sim := Binaries(t)
	p := Start(t, "irissim-"+name, nil, append([]string{sim, "serve", "--name", name, "--ip", ip, "--state", state}, extra...)...)
	WaitTCP(t, ip+":52780", 10*time.Second)
	return &Member{Name: name, IP: ip, Proc: p}
}

// Set changes the member's state through its control endpoint.
func (m *Member) Set(t testing.TB, state string) {
	t.Helper()
	if err := m.TrySet(state); err != nil {
		t.Fatal(err)
	}
}

// TrySet is Set that returns the error (for use off the test goroutine).
func (m *Member) TrySet(state string) error {
	req, _ := http.NewRequest(http.MethodPut, "http://"+m.IP+":52780/state", strings.NewReader(state))
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return fmt.Errorf("set %s %s: %w", m.Name, state, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set %s %s: %s", m.Name, state, resp.Status)
	}
	return nil
}

// MirrorStatusRequests is how many mirror_status requests reached the
// member (its control endpoint's counter).
func (m *Member) MirrorStatusRequests() (uint64, error) {
	code, body, err := HTTPGet("http://"+m.IP+":52780/stats", 5*time.Second)
	if err != nil {
		return 0, fmt.Errorf("stats of %s: %w", m.Name, err)
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("stats of %s: status %d", m.Name, code)
	}
	var st struct {
		N uint64 `json:"mirror_status_requests"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return 0, fmt.Errorf("stats of %s: %w", m.Name, err)
	}
	return st.N, nil
}

// Agent is a running `iris-mirror-agent serve` beside a member.
type Agent struct {
	Member *Member
	Proc   *Proc
}

// HTTPAddr is the agent's HTTP listener (9797 on the member's address).
func (a *Agent) HTTPAddr() string { return a.Member.IP + ":9797" }

// AgentAddr is the agent-check listener (9798).
func (a *Agent) AgentAddr() string { return a.Member.IP + ":9798" }

// StartAgent runs the agent for m on m's address, with extra flags last
// (they win), and waits for its HTTP port.
func StartAgent(t testing.TB, m *Member, extra ...string) *Agent {
	t.Helper()
	return StartAgentEnv(t, m, nil, extra...)
}

// StartAgentEnv is StartAgent with extra environment for the agent (and
// so for the commands it runs: iris qlist, hooks).
func StartAgentEnv(t testing.TB, m *Member, env []string, extra ...string) *Agent {
	t.Helper()
	return StartAgentWrapped(t, m, env, nil, extra...)
}

// StartAgentWrapped is StartAgentEnv with the agent's command line passed
// through wrap (such as prlimit), if set; the wrapper must exec the agent,
// so the process is the agent's.
func StartAgentWrapped(t testing.TB, m *Member, env []string, wrap func(argv []string) []string, extra ...string) *Agent {
	t.Helper()
	bin, _ := Binaries(t)
	args := []string{bin, "serve",
		"--member", m.Name,
		"--mirror-status-url", "http://" + m.WebAddr() + "/csp/mirror_status.cxw",
		"--superserver", m.SuperServerAddr(),
		"--http-listen", m.IP + ":9797",
		"--agent-listen", m.IP + ":9798",
		"--log-format", "json",
		"--shutdown-delay", "0s",
	}
	args = append(args, extra...)
	if wrap != nil {
		args = wrap(args)
	}
	p := Start(t, "agent-"+m.Name, env, args...)
	a := &Agent{Member: m, Proc: p}
	WaitTCP(t, a.HTTPAddr(), 10*time.Second)
	return a
}

// Sample is one request through a balancer: who answered, or the error.
type Sample struct {
	At     time.Time     // when the request started
	Took   time.Duration // until answered or failed
	Member string        // member that answered; empty on error
	Err    error
}
