// Command checkload asks an agent the way balancers do (itest.BalancerChecks)
// from its own process, so a test that attacks the agent from the test
// process measures the checks without sharing its goroutines. It checks
// until stdin closes (or -for elapses), then prints every sample as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"os"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/haproxyclient"
	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

func main() {
	httpAddr := flag.String("http", "", "agent HTTP address")
	agentAddr := flag.String("agent", "", "agent-check address")
	from := flag.String("from", "", "source IP of the checks")
	every := flag.Duration("every", 5*time.Millisecond, "pause between checks")
	max := flag.Duration("for", time.Minute, "stop after this long at most")
	flag.Parse()
	d := &net.Dialer{Control: haproxyclient.DelayHandshakeACK}
	if *from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(*from)}
	}
	b := &itest.BalancerChecks{HTTPAddr: *httpAddr, AgentAddr: *agentAddr, Every: *every,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}
	b.Start(*max)
	_, _ = io.Copy(io.Discard, os.Stdin)
	b.Stop()
	_ = json.NewEncoder(os.Stdout).Encode(itest.CheckReport{HTTP: itest.Export(b.HTTP()), Agent: itest.Export(b.Agent())})
}
