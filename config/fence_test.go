package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseFence(t *testing.T) {
	spec, err := ParseFence([]string{" 1972", "52773 "}, []string{"10.0.0.5", "fd00::1", "192.168.0.0/16", "fd01::/64"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(spec.Ports, []uint16{1972, 52773}) {
		t.Errorf("ports %v", spec.Ports)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("fd00::1/128"),
		netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fd01::/64")}
	if !slices.Equal(spec.Allow, want) {
		t.Errorf("allow %v; want %v", spec.Allow, want)
	}
	// IPv4 and IPv6 never overlap, even 0.0.0.0/8 and ::/8.
	if _, err := ParseFence([]string{"1"}, []string{"0.0.0.0/8", "::/8"}); err != nil {
		t.Errorf("v4 and v6: %v", err)
	}
	many := make([]string, maxFencePorts+1)
	for i := range many {
		many[i] = fmt.Sprint(i + 1)
	}
	for _, c := range []struct {
		ports, allow []string
		want         string
	}{
		{[]string{"0"}, nil, "1-65535"},
		{[]string{"65536"}, nil, "1-65535"},
		{[]string{"1972", "1972"}, nil, "twice"},
		{[]string{"0x7b4"}, nil, "1-65535"},
		{many, nil, "at most 64 ports"},
		{nil, []string{"10.0.0.1/8"}, "did you mean 10.0.0.0/8?"},
		{nil, []string{"fe80::1%eth0"}, "want a CIDR"},
		{nil, []string{"::ffff:10.0.0.0/104"}, "IPv4-mapped"},
		{nil, []string{"10.0.0.0/24", "10.0.0.128/25"}, "overlaps 10.0.0.0/24"},
		{nil, []string{"10.0.0.128/25", "10.0.0.0/24"}, "overlaps 10.0.0.128/25"},
		{nil, []string{"0.0.0.0/0"}, "refuse no one"},
		{nil, []string{"10.0.0.0/"}, "want a CIDR"},
	} {
		_, err := ParseFence(c.ports, c.allow)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v; want %q", c.ports, c.allow, err, c.want)
		}
	}
}

func TestLoadFenceVerbAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"close", "--fence", "1972", "--cut"},
		{"--fence", "1972", "close", "--cut"},
		{"--fence=1972", "--cut", "close"},
		{"--cut", "--fence", "1972", "close"},
	} {
		cfg, spec, verb, err := LoadFence(args, nil, nil)
		if err != nil || verb != "close" || !cfg.Cut || !slices.Equal(spec.Ports, []uint16{1972}) {
			t.Errorf("%v: %+v %v %q %v", args, cfg, spec, verb, err)
		}
	}
	// The environment gives the ports, as it does to serve.
	_, spec, verb, err := LoadFence([]string{"status"}, []string{"MIRROR_AGENT_FENCE=1972,52773"}, nil)
	if err != nil || verb != "status" || len(spec.Ports) != 2 {
		t.Errorf("env: %v %q %v", spec, verb, err)
	}
	for _, args := range [][]string{{}, {"frob"}, {"close"}, {"open", "--cut"}, {"status", "extra"}, {"--fence", "x", "status"}} {
		if _, _, _, err := LoadFence(args, nil, nil); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want a one-line error", args, err)
		}
	}
}
