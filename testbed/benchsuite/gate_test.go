//go:build bench

package benchsuite

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/itest"
)

// gateNginxConf puts nginx in front of the same application three ways:
// through the agent's gate, through the smallest Go TCP relay (the floor
// under any user-space gate), and straight to it; each once with a new
// upstream connection per request, as examples/nginx/http-gate.conf does
// (ports 808x), and once with upstream keepalive (ports 809x). The other
// proxy settings are the example's; access logging is off.
const gateNginxConf = `worker_processes auto;
events { worker_connections 4096; }
http {
    access_log off;
    upstream gated    { server %[1]s max_fails=0; }
    upstream relayed  { server %[2]s max_fails=0; }
    upstream direct   { server %[3]s max_fails=0; }
    upstream gated_ka   { server %[1]s max_fails=0; keepalive 64; }
    upstream relayed_ka { server %[2]s max_fails=0; keepalive 64; }
    upstream direct_ka  { server %[3]s max_fails=0; keepalive 64; }
    proxy_next_upstream error timeout;
    proxy_connect_timeout 500ms;
    proxy_http_version 1.1;
    proxy_set_header Host $host;
    server { listen %[4]s:8081; location / { proxy_pass http://gated; } }
    server { listen %[4]s:8082; location / { proxy_pass http://relayed; } }
    server { listen %[4]s:8083; location / { proxy_pass http://direct; } }
    server { listen %[4]s:8091; location / { proxy_set_header Connection ""; proxy_pass http://gated_ka; } }
    server { listen %[4]s:8092; location / { proxy_set_header Connection ""; proxy_pass http://relayed_ka; } }
    server { listen %[4]s:8093; location / { proxy_set_header Connection ""; proxy_pass http://direct_ka; } }
}
`

// sectionGate: requests through nginx to an application behind the
// agent's gate, against nginx talking to the application directly, in the
// same run (issue 3's figures), with the smallest relay as the floor.
func sectionGate(t *testing.T, e *env) *Table {
	l := itest.NewLoopback(t)
	m := itest.StartMember(t, "bench", l.IP(1), "primary")
	_, app := startBaseline(t, e, l, "web")
	relayAddr := l.IP(6) + ":8080"
	itest.Start(t, "baseline-relay", nil, e.baseline, "relay", relayAddr, app)
	itest.WaitTCP(t, relayAddr, 10*time.Second)
	gateAddr := m.IP + ":52774"
	a := itest.StartAgent(t, m, "--gate", gateAddr+"="+app)
	itest.WaitHTTP(t, "http://"+a.HTTPAddr()+"/primary", 200, 15*time.Second)
	itest.WaitTCP(t, gateAddr, 10*time.Second)

	front := l.IP(5)
	conf := filepath.Join(t.TempDir(), "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(gateNginxConf, gateAddr, relayAddr, app, front)), 0o644); err != nil {
		t.Fatal(err)
	}
	itest.StartNginx(t, conf, itest.HostsFile(t, nil))
	url := func(port int) string { return fmt.Sprintf("http://%s:%d", front, port) }
	for _, port := range []int{8081, 8082, 8083, 8091, 8092, 8093} {
		itest.WaitHTTP(t, url(port)+"/", 200, 10*time.Second)
		e.runWrk(t, url(port)+"/", 16, false) // warm up, as in sectionHTTP
	}

	tbl := &Table{
		Title: "nginx through the gate",
		Intro: "Stock nginx (Debian's) in front of one application, a minimal Go net/http server (`testbed/benchsuite/testdata/baseline web`), " +
			"three ways in one nginx: through the agent's gate (`--gate`, member primary, so it forwards), through the smallest Go " +
			"TCP relay (`baseline relay`: accept, dial, io.Copy each way; the floor under any user-space gate), and straight to the " +
			"application. \"new connection\" uses the proxy settings of `examples/nginx/http-gate.conf` (a new upstream connection per " +
			"request, so the gate decides every request); \"keepalive\" adds `keepalive 64` to the upstreams. wrk keeps its own " +
			"connections to nginx alive. Small answers (8 bytes) measure requests/s and latency, `/bulk` (1 MiB) throughput. " +
			"Targets: through the gate >= 0.9x direct, at most 100 µs added to the median latency.",
		Head: []string{"upstream", "load", "gate", "relay (floor)", "direct", "gate/direct", "gate/relay", "gate p50", "direct p50", "added p50",
			"gate p99", "direct p99", "errors (g/r/d)", "target met"},
	}
	cases := []struct {
		upstream string
		base     int // port of the gated server; +1 relay, +2 direct
		load     string
		path     string
		conns    int
		bulk     bool
	}{
		{"new connection", 8081, "1 connection, small (req/s)", "/", 1, false},
		{"new connection", 8081, "64 connections, small (req/s)", "/", 64, false},
		{"new connection", 8081, "8 connections, 1 MiB (MB/s)", "/bulk", 8, true},
		{"keepalive", 8091, "1 connection, small (req/s)", "/", 1, false},
		{"keepalive", 8091, "64 connections, small (req/s)", "/", 64, false},
		{"keepalive", 8091, "8 connections, 1 MiB (MB/s)", "/bulk", 8, true},
	}
	for _, c := range cases {
		targets := []string{url(c.base) + c.path, url(c.base+1) + c.path, url(c.base+2) + c.path}
		vals := make([][]float64, 3)
		p50 := make([][]float64, 3)
		p99 := make([][]float64, 3)
		errs := make([]int, 3)
		for run := range e.s.runs {
			for i := range targets { // rotate, so no target always runs first
				k := (i + run) % len(targets)
				r := e.runWrk(t, targets[k], c.conns, false)
				v := r.PerSec
				if c.bulk {
					v = r.Bytes / 1e6
				}
				vals[k], p50[k], p99[k] = append(vals[k], v), append(p50[k], r.P50.Seconds()), append(p99[k], r.P99.Seconds())
				errs[k] += r.Errors
			}
		}
		G, R, D := Summarise(vals[0]), Summarise(vals[1]), Summarise(vals[2])
		G50, D50 := Summarise(p50[0]), Summarise(p50[2])
		ratio := Ratio(G, D)
		added := G50.Median - D50.Median
		ok := ratio >= 0.9 && (c.bulk || added <= 100e-6)
		fmtV := FmtRate
		if c.bulk {
			fmtV = func(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }
		}
		addedCell := FmtDur(added)
		if added < 0 {
			addedCell = "-" + FmtDur(-added)
		}
		t.Logf("gate %s %s: gate %.0f, relay %.0f, direct %.0f, added p50 %s", c.upstream, c.load, G.Median, R.Median, D.Median, addedCell)
		tbl.AddRow(c.upstream, c.load, G.Format(fmtV), R.Format(fmtV), D.Format(fmtV), FmtRatio(ratio), FmtRatio(Ratio(G, R)),
			G50.Format(FmtDur), D50.Format(FmtDur), addedCell, Summarise(p99[0]).Format(FmtDur), Summarise(p99[2]).Format(FmtDur),
			fmt.Sprintf("%d/%d/%d", errs[0], errs[1], errs[2]), Verdict(ok, !math.IsNaN(ratio)))
	}
	tbl.Notes = append(tbl.Notes,
		"A gate is one more TCP hop: with a new upstream connection per request, every request costs the gate an accept, "+
			"a connect to the application and two teardowns, on the same two cores nginx, wrk and the application use. The "+
			"gate/relay column compares the gate with the smallest possible Go relay doing only that: where it is near 1.0x, "+
			"what separates the gate from direct is the hop itself, not the gate's code.",
		"The gate copies with splice(2) (Go's io.Copy between TCP connections): bulk bytes do not pass through user space.",
		"With upstream keepalive nginx reuses its connections to the gate, so a request costs the gate only its bytes. A "+
			"demotion still cuts those connections at once (the default `--gate-drain 0`), and nginx retries an idempotent "+
			"request that met a cut connection on the next upstream; the example keeps a new connection per request so that "+
			"nothing depends on that retry.")
	return tbl
}
