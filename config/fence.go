package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of the fence settings: each port and allowed prefix is one
// nftables rule, evaluated for the packets of a fenced member.
const (
	maxFencePorts = 64
	maxFenceAllow = 64
)

// FenceSpec is the parsed --fence and --fence-allow.
type FenceSpec struct {
	Ports []uint16       // in the order given, no duplicates
	Allow []netip.Prefix // masked, IPv4 as 4-byte addresses, none inside another
}

// Fence holds the settings of `iris-mirror-agent fence`: the same ports
// and allow list as serve's, read from the same flags and variables.
type Fence struct {
	Fence      []string `env:"FENCE" envSeparator:"," flag:"fence" help:"the fenced ports (serve --fence); close needs them"`
	FenceAllow []string `env:"FENCE_ALLOW" envSeparator:"," flag:"fence-allow" help:"clients the fence spares (serve --fence-allow)"`
	Cut        bool     `env:"FENCE_CUT" envDefault:"false" flag:"cut" help:"with close: also cut the established sessions to the fenced ports now"`
}

// FenceSynopsis is the help of the fence command.
const FenceSynopsis = `iris-mirror-agent fence status|open|close [settings]

Show, open or close this member's fence (serve --fence) in the kernel,
without the agent: it works when the agent is stopped. A running agent puts
its own verdict back at its next probe round (within --interval).`

// LoadFence reads the fence command's settings; the verb may come before
// or after them. It returns the verb.
func LoadFence(args, environ []string, help interface{ Write([]byte) (int, error) }) (*Fence, FenceSpec, string, error) {
	cfg := &Fence{}
	verb, args := takeVerb(cfg, args)
	rest, err := Load(cfg, "iris-mirror-agent fence", FenceSynopsis, args, environ, help)
	if err != nil {
		return nil, FenceSpec{}, "", err
	}
	if len(rest) > 0 {
		return nil, FenceSpec{}, "", fmt.Errorf("unexpected argument %q", rest[0])
	}
	switch verb {
	case "status", "open", "close":
	default:
		return nil, FenceSpec{}, "", errors.New("want one of: status, open, close")
	}
	spec, err := ParseFence(cfg.Fence, cfg.FenceAllow)
	if err != nil {
		return nil, FenceSpec{}, "", err
	}
	if verb == "close" && len(spec.Ports) == 0 {
		return nil, FenceSpec{}, "", settingErr("fence", "FENCE", "", "close needs the fenced ports, as serve has them")
	}
	if cfg.Cut && verb != "close" {
		return nil, FenceSpec{}, "", settingErr("cut", "FENCE_CUT", "true", "only close cuts sessions")
	}
	return cfg, spec, verb, nil
}

// takeVerb removes the first argument that is neither a flag nor a
// flag's value, so the verb may stand before, between or after them.
func takeVerb(cfg any, args []string) (string, []string) {
	settings, _ := Settings(cfg)
	takesValue := map[string]bool{}
	for _, s := range settings {
		takesValue[s.Flag] = s.Kind != "bool"
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			return a, append(args[:i:i], args[i+1:]...)
		}
		if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && takesValue[name] {
			i++
		}
	}
	return "", args
}

// FenceSpec returns the parsed fence settings. Call it on a validated Serve.
func (c *Serve) FenceSpec() FenceSpec {
	spec, _ := ParseFence(c.Fence, c.FenceAllow)
	return spec
}

// validateFence checks the fence settings and the ports they must not
// take from the agent.
func (c *Serve) validateFence() error {
	spec, err := ParseFence(c.Fence, c.FenceAllow)
	if err != nil {
		return err
	}
	if len(spec.Ports) == 0 && len(spec.Allow) > 0 {
		return settingErr("fence-allow", "FENCE_ALLOW", strings.Join(c.FenceAllow, ","), "needs --fence: there is no fence to let clients through")
	}
	own := []struct{ flag, addr string }{{"--http-listen", c.HTTPListen}, {"--agent-listen", c.AgentListen}}
	for _, g := range c.Gates {
		if listen, _, ok := strings.Cut(g, "="); ok {
			own = append(own, struct{ flag, addr string }{"--gate", strings.TrimSpace(listen)})
		}
	}
	for _, p := range spec.Ports {
		for _, o := range own {
			if _, port, err := net.SplitHostPort(o.addr); err == nil && port == strconv.Itoa(int(p)) {
				why := "is the port of " + o.flag + ": balancers must reach the agent on every member"
				if o.flag == "--gate" {
					why = "is the port of a --gate, which already opens only on its role: use one or the other"
				}
				return settingErr("fence", "FENCE", strconv.Itoa(int(p)), why)
			}
		}
	}
	if c.FenceDrain < 0 || c.FenceDrain > time.Hour {
		return settingErr("fence-drain", "FENCE_DRAIN", c.FenceDrain.String(), "must be between 0s and 1h")
	}
	return nil
}

// ParseFence parses the fenced ports and the allow list.
func ParseFence(ports, allow []string) (FenceSpec, error) {
	var spec FenceSpec
	if len(ports) > maxFencePorts {
		return spec, settingErr("fence", "FENCE", strings.Join(ports, ","), fmt.Sprintf("at most %d ports", maxFencePorts))
	}
	for _, item := range ports {
		if strings.TrimSpace(item) == "" {
			continue // "1972," from the environment, as the flag reads it
		}
		n, err := strconv.Atoi(strings.TrimSpace(item))
		if err != nil || n < 1 || n > 65535 {
			return spec, settingErr("fence", "FENCE", item, "want TCP ports 1-65535, such as 1972,52773")
		}
		if slices.Contains(spec.Ports, uint16(n)) {
			return spec, settingErr("fence", "FENCE", item, "port given twice")
		}
		spec.Ports = append(spec.Ports, uint16(n))
	}
	if len(allow) > maxFenceAllow {
		return spec, settingErr("fence-allow", "FENCE_ALLOW", strings.Join(allow, ","), fmt.Sprintf("at most %d prefixes", maxFenceAllow))
	}
	for _, item := range allow {
		if strings.TrimSpace(item) == "" {
			continue
		}
		p, err := parseAllow(strings.TrimSpace(item))
		if err != nil {
			return spec, settingErr("fence-allow", "FENCE_ALLOW", item, err.Error())
		}
		for _, o := range spec.Allow {
			if o.Overlaps(p) {
				return spec, settingErr("fence-allow", "FENCE_ALLOW", item, "overlaps "+o.String()+": give each client range once")
			}
		}
		spec.Allow = append(spec.Allow, p)
	}
	return spec, nil
}

// parseAllow reads one CIDR (or one address, meaning that host).
func parseAllow(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, errors.New("want a CIDR such as 10.0.0.0/24 or fd00::/64, or one address")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return p, errors.New("want a CIDR such as 10.0.0.0/24 or fd00::/64, or one address")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return p, errors.New("write IPv4 as a.b.c.d/n, not as an IPv4-mapped IPv6 prefix")
	}
	if p.Bits() == 0 {
		return p, errors.New("allows every client: the fence would refuse no one")
	}
	if m := p.Masked(); m != p {
		return p, fmt.Errorf("has host bits set (did you mean %s?)", m)
	}
	return p, nil
}
