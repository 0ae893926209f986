package itest

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// AgentLinePrefix starts the header line by which every example
// configuration names the agent flags each member must run with: listen
// addresses as :PORT, the member's own services as 127.0.0.1:PORT.
const AgentLinePrefix = "# agent: iris-mirror-agent serve"

// AgentLine returns the flags of path's `# agent:` header line (after
// "serve"), failing the test unless there is exactly one such line.
func AgentLine(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var found [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, AgentLinePrefix); ok && (rest == "" || rest[0] == ' ') {
			found = append(found, strings.Fields(rest))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one %q header line, found %d", path, AgentLinePrefix+" ...", len(found))
	}
	return found[0]
}

// ExampleAgentFlags returns the flags an example's header names, placed on
// member m as the tests lay members out (each on its own loopback address
// with IRIS's ports): ":PORT" listens on m's address, "127.0.0.1:PORT"
// (the member's own service) is m's address too.
func ExampleAgentFlags(t testing.TB, rel string, m *Member) []string {
	t.Helper()
	return OnMember(AgentLine(t, Example(t, rel)), m.IP)
}

var (
	listenPort = regexp.MustCompile(`(^|=):(\d+)`)
	ownService = regexp.MustCompile(`(^|=)127\.0\.0\.1:(\d+)`)
)

// OnMember rewrites flags written for a member's host (":PORT",
// "127.0.0.1:PORT") onto the address ip.
func OnMember(flags []string, ip string) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		f = ownService.ReplaceAllString(f, "${1}"+ip+":${2}")
		out[i] = listenPort.ReplaceAllString(f, "${1}"+ip+":${2}")
	}
	return out
}
