package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Gate roles: the check that opens a gate.
const (
	GateRolePrimary = "primary"
	GateRoleStandby = "standby"
)

// GateSpec is one --gate, with its role from --gate-role.
type GateSpec struct {
	Listen string // [host]:port
	Target string // host:port
	Role   string // GateRolePrimary or GateRoleStandby
}

// GateSpecs returns the configured gates in the order given. Call it on a
// validated Serve.
func (c *Serve) GateSpecs() ([]GateSpec, error) {
	specs := make([]GateSpec, 0, len(c.Gates))
	index := map[string]int{}
	for _, item := range c.Gates {
		listen, target, err := parseGate(item)
		if err != nil {
			return nil, settingErr("gate", "GATES", item, err.Error())
		}
		index[listen] = len(specs)
		specs = append(specs, GateSpec{Listen: listen, Target: target, Role: GateRolePrimary})
	}
	seen := map[string]bool{}
	for _, item := range c.GateRoles {
		listen, role, ok := strings.Cut(item, "=")
		listen, role = strings.TrimSpace(listen), strings.TrimSpace(role)
		if !ok || listen == "" {
			return nil, settingErr("gate-role", "GATE_ROLES", item, "want LISTEN=ROLE, such as :52775=standby")
		}
		i, known := index[listen]
		if !known {
			return nil, settingErr("gate-role", "GATE_ROLES", item, fmt.Sprintf("no --gate listens on %q", listen))
		}
		if seen[listen] {
			return nil, settingErr("gate-role", "GATE_ROLES", item, "role of "+listen+" given twice")
		}
		seen[listen] = true
		switch role {
		case GateRolePrimary, GateRoleStandby:
			specs[i].Role = role
		default:
			return nil, settingErr("gate-role", "GATE_ROLES", item, "role must be primary or standby")
		}
	}
	return specs, nil
}

// validateGates checks the gate settings and the addresses they would
// collide with.
func (c *Serve) validateGates() error {
	specs, err := c.GateSpecs()
	if err != nil {
		return err
	}
	for i, s := range specs {
		item := s.Listen + "=" + s.Target
		for _, o := range specs[:i] {
			if SameListen(s.Listen, o.Listen) {
				return settingErr("gate", "GATES", item, "listens where the gate "+o.Listen+" does")
			}
		}
		if SameListen(s.Listen, c.HTTPListen) {
			return settingErr("gate", "GATES", item, "listens where --http-listen does")
		}
		if SameListen(s.Listen, c.AgentListen) {
			return settingErr("gate", "GATES", item, "listens where --agent-listen does")
		}
		if SameListen(s.Listen, s.Target) {
			return settingErr("gate", "GATES", item, "forwards to itself")
		}
		// A gate forwarding to another gate: two that forward to each
		// other would turn one connection into sessions until the cap.
		for _, o := range specs {
			if o.Listen != s.Listen && SameListen(o.Listen, s.Target) {
				return settingErr("gate", "GATES", item, "forwards to the gate "+o.Listen)
			}
		}
	}
	if c.GateDrain < 0 || c.GateDrain > time.Hour {
		return settingErr("gate-drain", "GATE_DRAIN", c.GateDrain.String(), "must be between 0s and 1h")
	}
	if c.GateConnectTimeout <= 0 || c.GateConnectTimeout > time.Minute {
		return settingErr("gate-connect-timeout", "GATE_CONNECT_TIMEOUT", c.GateConnectTimeout.String(), "must be greater than 0 and at most 1m")
	}
	if c.GateMaxSessions < 1 || c.GateMaxSessions > 1_000_000 {
		return settingErr("gate-max-sessions", "GATE_MAX_SESSIONS", fmt.Sprint(c.GateMaxSessions), "must be between 1 and 1000000")
	}
	return nil
}

// parseGate splits LISTEN=TARGET and checks both addresses.
func parseGate(item string) (listen, target string, err error) {
	listen, target, ok := strings.Cut(item, "=")
	listen, target = strings.TrimSpace(listen), strings.TrimSpace(target)
	if !ok || listen == "" || target == "" {
		return "", "", errors.New("want LISTEN=TARGET, such as :52774=127.0.0.1:52773")
	}
	if err := CheckListenAddr(listen); err != nil {
		return "", "", fmt.Errorf("LISTEN: %w", err)
	}
	if _, port, _ := net.SplitHostPort(listen); port == "0" || strings.Trim(port, "0") == "" {
		return "", "", errors.New("LISTEN needs a fixed port: balancers connect to it")
	}
	if err := CheckDialAddr(target); err != nil {
		return "", "", fmt.Errorf("TARGET: %w", err)
	}
	return listen, target, nil
}

// settingErr is a bad setting whose env variable differs from the flag
// name (--gate is MIRROR_AGENT_GATES), or that is not a plain value.
func settingErr(flag, env, value, why string) error {
	return &Error{Flag: flag, Env: Prefix + env, Value: value, Err: errors.New(why)}
}
