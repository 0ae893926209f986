// Package benchsuite measures every path a balancer uses against a
// baseline measured in the same run, and writes BENCHMARKS.md.
//
// The suite itself is TestSuite in suite_test.go, behind the build tag
// "bench" so that `go test ./...` never runs it. It drives the real
// binaries (the agent, irissim, agentload, wrk, haproxy, bash and curl) on
// loopback addresses only, bounds every loop in count and time, and stops
// every process it started. Regenerate BENCHMARKS.md with:
//
//	go test -tags bench -run '^TestSuite$' -count=1 -timeout 2h -v ./testbed/benchsuite
//
// and a short smoke run (one run of each, 1 s loads) with
//
//	go test -tags bench -run '^TestSuite$' -count=1 -timeout 30m -v ./testbed/benchsuite -args -quick
//
// and one section alone (here the external-check one; -sections takes a
// comma-separated list; -out keeps BENCHMARKS.md as it is) with
//
//	go test -tags bench -run '^TestSuite$' -count=1 -timeout 30m -v ./testbed/benchsuite -args -runs 7 -sections external-check -out /tmp/external-check.md
//
// The files without the tag hold what the suite computes (summaries, wrk's
// output, /proc readings, the report) and are unit-tested with the rest.
package benchsuite
