package main

import (
	"crypto/tls"
	"testing"

	"github.com/irismirror/iris-mirror-agent/probe"
)

// clientTLS trusts caFile, as a balancer checking over HTTPS would.
func clientTLS(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	conf, err := probe.ClientTLS(probe.TLSOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	return conf
}
