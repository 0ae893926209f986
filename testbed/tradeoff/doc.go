// Package tradeoff measures what the agent's polling settings trade: how
// soon a failover is seen against how often IRIS's latency spikes make
// /primary fail for a member that stayed primary (a blip).
//
// It simulates, in discrete simulated time, the real checker.Machine fed
// by monitor.Run's round policy (sim.go), with mirror_status latencies
// drawn from a testbed/latency profile: hours of a member that stays
// primary for the blips, and many failovers at random phases for the
// failover times, as a gate and as haproxy's checks see them
// (scenario.go). Evaluate runs a grid of settings, Front and Pick choose
// (grid.go), Report writes docs/reports/tradeoff.md (report.go).
//
// The quick version runs with the package's tests; the whole grid with
//
//	go test -run '^TestTradeoff$' -count=1 -timeout 3h -v ./testbed/tradeoff -args -full
//
// TestSimulationMatchesMonitor checks the simulation against the real
// monitor package on a scripted latency sequence. Behind the build tag
// "soak", TestSoak runs the real agent binary at serve's defaults against
// irissim serve --latency-profile and counts the blips balancers see:
//
//	go test -tags soak -run '^TestSoak$' -count=1 -timeout 30m -v ./testbed/tradeoff -args -soak 10m
package tradeoff
