package integration

import (
	"testing"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// The nginx half of the reference scenarios: nginx, the seed's front door,
// with examples/nginx/http-gate.conf unchanged (:80, /ap1/ to ap1a:52774
// and ap1b:52774, /ap2/ likewise), in front of each member's web gate: the
// agent's --gate MEMBER:52774=MEMBER:52773, open only while the member is
// the routable primary (issue 3). Clients call the seed's REST path and
// read the member's name from the JSON.

func nginxDoor() frontDoor {
	return frontDoor{
		name:       "nginx with the agents' gates (examples/nginx/http-gate.conf)",
		agentFlags: func(t *testing.T) func(*itest.Member) []string { return exampleAgent(t, "nginx/http-gate.conf") },
		start: func(t *testing.T, l *layout) (askFunc, askFunc) {
			itest.StartNginx(t, itest.Example(t, "nginx/http-gate.conf"), l.hosts)
			return itest.HTTPAsk("http://"+l.front+"/ap1/csp/mirrorns/api/get", clientTimeout),
				itest.HTTPAsk("http://"+l.front+"/ap2/csp/mirrorns/api/get", clientTimeout)
		},
	}
}

func TestReferenceScenariosNginx(t *testing.T) {
	runReferenceScenarios(t, nginxDoor())
}
