package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// Serve holds the settings of `iris-mirror-agent serve`.
type Serve struct {
	Member             string        `env:"MEMBER" flag:"member" help:"member name shown in /status and logs (empty: the host name)"`
	MirrorStatusURL    string        `env:"MIRROR_STATUS_URL" envDefault:"http://127.0.0.1:52773/csp/mirror_status.cxw" flag:"mirror-status-url" help:"URL of this member's mirror_status.cxw (http or https)"`
	CAFile             string        `env:"CA_FILE" flag:"ca-file" help:"PEM CA bundle to verify an https mirror-status URL"`
	InsecureSkipVerify bool          `env:"INSECURE_SKIP_VERIFY" envDefault:"false" flag:"insecure-skip-verify" help:"do not verify the mirror-status certificate (logs a warning)"`
	SuperServer        string        `env:"SUPERSERVER" envDefault:"127.0.0.1:1972" flag:"superserver" help:"SuperServer host:port to connect-check (empty disables)"`
	HTTPListen         string        `env:"HTTP_LISTEN" envDefault:":9797" flag:"http-listen" help:"HTTP health endpoints listen address (empty disables)"`
	AgentListen        string        `env:"AGENT_LISTEN" envDefault:":9798" flag:"agent-listen" help:"haproxy agent-check listen address (empty disables)"`
	Interval           time.Duration `env:"INTERVAL" envDefault:"125ms" flag:"interval" help:"time between probe rounds, each one mirror_status request to IRIS (how the defaults were chosen: docs/tuning.md)"`
	Timeout            time.Duration `env:"TIMEOUT" envDefault:"525ms" flag:"timeout" help:"deadline of one probe round, retries included; rounds overlap, so a slow answer does not delay the next round"`
	Lease              time.Duration `env:"LEASE" envDefault:"0s" flag:"lease" help:"how long an answer is believed after the start of the probe round behind it; past it every check fails (0: interval + timeout)"`
	Rise               int           `env:"RISE" envDefault:"2" flag:"rise" help:"consecutive good answers to leave role down"`
	Fall               int           `env:"FALL" envDefault:"3" flag:"fall" help:"consecutive probe errors before role down (/primary fails at the first)"`
	ShutdownDelay      time.Duration `env:"SHUTDOWN_DELAY" envDefault:"2s" flag:"shutdown-delay" help:"on SIGTERM, answer 'down ready #shutting down' (503) this long before closing; a second signal ends the wait"`
	AgentSendWait      time.Duration `env:"AGENT_SEND_WAIT" envDefault:"100ms" flag:"agent-send-wait" help:"on the agent-check port, how long a client that sent no check word with its connection may take to send it before it is answered for primary (0: answer at once)"`
	LogLevel           string        `env:"LOG_LEVEL" envDefault:"info" flag:"log-level" help:"debug, info, warn or error"`
	LogFormat          string        `env:"LOG_FORMAT" envDefault:"auto" flag:"log-format" help:"json, console, or auto (console on a terminal, else json)"`

	// TLS on the HTTP listener (see tls.go).
	TLSCertFile     string `env:"TLS_CERT_FILE" flag:"tls-cert-file" help:"PEM certificate (chain) to serve HTTPS on --http-listen; reloaded on SIGHUP"`
	TLSKeyFile      string `env:"TLS_KEY_FILE" flag:"tls-key-file" help:"PEM private key of --tls-cert-file"`
	TLSClientCAFile string `env:"TLS_CLIENT_CA_FILE" flag:"tls-client-ca-file" help:"PEM CA bundle: require and verify client certificates on HTTPS"`

	// Operations: iris qlist, metrics, maintenance, hooks, pokes (see serve_ops.go).
	QListInstance   string        `env:"QLIST_INSTANCE" flag:"qlist-instance" help:"IRIS instance name: run 'iris qlist NAME' each round for backup/async roles and a cross-check (empty disables)"`
	IrisBin         string        `env:"IRIS_BIN" envDefault:"iris" flag:"iris-bin" help:"the iris launcher run for --qlist-instance"`
	Metrics         bool          `env:"METRICS" envDefault:"true" flag:"metrics" help:"serve Prometheus metrics at /metrics on the HTTP listener"`
	DrainFile       string        `env:"DRAIN_FILE" flag:"drain-file" help:"while this file exists the member is in maintenance: every check but live fails (checked each round)"`
	AdminSocket     string        `env:"ADMIN_SOCKET" flag:"admin-socket" help:"unix socket for local admin commands (poke, maintenance); empty disables"`
	AdminSocketMode string        `env:"ADMIN_SOCKET_MODE" envDefault:"0600" flag:"admin-socket-mode" help:"permissions of the admin socket: 0600 (its owner only), or 0620 or 0660 to let the agent's group (such as IRIS's user, added to it) connect; never others"`
	PokeMinInterval time.Duration `env:"POKE_MIN_INTERVAL" envDefault:"50ms" flag:"poke-min-interval" help:"a poke starts a probe round no sooner than this after the previous round"`
	OnChange        string        `env:"ON_CHANGE" flag:"on-change" help:"program (and arguments, split on spaces, no shell) run on every role change"`
	OnChangeTimeout time.Duration `env:"ON_CHANGE_TIMEOUT" envDefault:"10s" flag:"on-change-timeout" help:"kill the on-change program after this long"`

	// Gates (see gates.go).
	Gates              []string      `env:"GATES" envSeparator:"," flag:"gate" help:"LISTEN=TARGET: forward LISTEN to TARGET while this member is primary, refuse otherwise (repeatable), e.g. :52774=127.0.0.1:52773"`
	GateRoles          []string      `env:"GATE_ROLES" envSeparator:"," flag:"gate-role" help:"LISTEN=ROLE: the verdict that opens the gate on LISTEN, primary (a routable primary: every gate not named here) or standby (a healthy standby); repeatable"`
	GateDrain          time.Duration `env:"GATE_DRAIN" envDefault:"0s" flag:"gate-drain" help:"when a gate closes, let its sessions run this long (0: cut them at once); new connections are refused at once"`
	GateConnectTimeout time.Duration `env:"GATE_CONNECT_TIMEOUT" envDefault:"1s" flag:"gate-connect-timeout" help:"a gate's connect timeout to its TARGET"`
	GateMaxSessions    int           `env:"GATE_MAX_SESSIONS" envDefault:"4096" flag:"gate-max-sessions" help:"concurrent sessions per gate; beyond, new connections are reset"`

	// Fence (see fence.go).
	Fence      []string      `env:"FENCE" envSeparator:"," flag:"fence" help:"PORT[,PORT...]: while this member is not a routable primary, its kernel refuses new TCP connections to these ports (nftables, needs CAP_NET_ADMIN), e.g. 1972,52773"`
	FenceAllow []string      `env:"FENCE_ALLOW" envSeparator:"," flag:"fence-allow" help:"CIDR[,CIDR...]: clients the fence never refuses or cuts, such as the other mirror members (loopback always passes)"`
	FenceDrain time.Duration `env:"FENCE_DRAIN" envDefault:"0s" flag:"fence-drain" help:"when the fence closes, let established sessions to the fenced ports run this long before cutting them (0: at once)"`
}

// ServeSynopsis is the one-paragraph help of serve.
const ServeSynopsis = `iris-mirror-agent serve [settings]

Probe this IRIS mirror member and answer load balancers from memory:
HTTP /primary /standby /health /live /status /metrics, haproxy
agent-check, and gates (TCP relays that listen only while this member
passes their check).`

// LoadServe reads serve's settings and validates them.
func LoadServe(args, environ []string, help interface{ Write([]byte) (int, error) }) (*Serve, error) {
	cfg := &Serve{}
	rest, err := Load(cfg, "iris-mirror-agent serve", ServeSynopsis, args, environ, help)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected argument %q (serve takes only settings)", rest[0])
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks every setting and the ones that conflict.
func (c *Serve) Validate() error {
	bad := func(flag string, value any, why string) error {
		return &Error{Flag: flag, Env: Prefix + envName(flag), Value: fmt.Sprint(value), Err: errors.New(why)}
	}
	if c.Member == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "member"
		}
		c.Member = h
	}
	if len(c.Member) > 64 || strings.ContainsAny(c.Member, " \t\r\n#\"") {
		return bad("member", c.Member, "must be at most 64 characters, without spaces, quotes or '#'")
	}
	if _, err := endpoint.ParseHTTPURL(c.MirrorStatusURL); err != nil {
		return bad("mirror-status-url", RedactedURL(c.MirrorStatusURL), err.Error())
	}
	if c.CAFile != "" {
		if err := checkCAFile(c.CAFile); err != nil {
			return bad("ca-file", c.CAFile, err.Error())
		}
	}
	if c.SuperServer != "" {
		if err := CheckDialAddr(c.SuperServer); err != nil {
			return bad("superserver", c.SuperServer, err.Error())
		}
	}
	if c.HTTPListen != "" {
		if err := CheckListenAddr(c.HTTPListen); err != nil {
			return bad("http-listen", c.HTTPListen, err.Error())
		}
	}
	if c.AgentListen != "" {
		if err := CheckListenAddr(c.AgentListen); err != nil {
			return bad("agent-listen", c.AgentListen, err.Error())
		}
	}
	if c.HTTPListen == "" && c.AgentListen == "" {
		return bad("http-listen", "", "both --http-listen and --agent-listen are empty: nothing would be served")
	}
	if c.HTTPListen != "" && SameListen(c.HTTPListen, c.AgentListen) {
		return bad("agent-listen", c.AgentListen, "same address as --http-listen")
	}
	if c.Interval <= 0 {
		return bad("interval", c.Interval, "must be greater than 0")
	}
	if c.Interval < 10*time.Millisecond {
		return bad("interval", c.Interval, "must be at least 10ms")
	}
	if c.Timeout <= 0 {
		return bad("timeout", c.Timeout, "must be greater than 0")
	}
	if c.Timeout > time.Minute {
		return bad("timeout", c.Timeout, "must be at most 1m")
	}
	if c.Lease != 0 && c.Lease <= c.Interval {
		return bad("lease", c.Lease, "must be longer than --interval (or 0 for interval + timeout)")
	}
	if c.Lease > 10*time.Minute {
		return bad("lease", c.Lease, "must be at most 10m")
	}
	if c.AgentSendWait < 0 || c.AgentSendWait > 10*time.Second {
		return bad("agent-send-wait", c.AgentSendWait, "must be between 0s and 10s")
	}
	if c.Rise < 1 || c.Rise > 100 {
		return bad("rise", c.Rise, "must be between 1 and 100")
	}
	if c.Fall < 1 || c.Fall > 100 {
		return bad("fall", c.Fall, "must be between 1 and 100")
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > 5*time.Minute {
		return bad("shutdown-delay", c.ShutdownDelay, "must be between 0s and 5m")
	}
	if err := c.validateTLS(bad); err != nil {
		return err
	}
	if err := c.validateGates(); err != nil {
		return err
	}
	if err := c.validateFence(); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("log-level", c.LogLevel, "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "json", "console", "auto":
	default:
		return bad("log-format", c.LogFormat, "must be json, console or auto")
	}
	return c.validateOps(bad)
}

// AnswerLease is how long an answer is believed after the start of the
// probe round behind it: --lease, or interval + timeout, the time by which
// the next round has either answered or timed out.
func (c *Serve) AnswerLease() time.Duration {
	if c.Lease > 0 {
		return c.Lease
	}
	return c.Interval + c.Timeout
}

func envName(flag string) string {
	return strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// RedactedURL shows a URL without its credentials, even one that does
// not parse.
func RedactedURL(raw string) string {
	if u, err := endpoint.ParseHTTPURL(raw); err == nil {
		return endpoint.Redact(u)
	}
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "REDACTED" + raw[i:]
		}
	}
	return raw
}

// CheckDialAddr accepts host:port with a non-empty host and a port 1-65535.
func CheckDialAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("host is empty")
	}
	return checkPort(port, false)
}

// CheckListenAddr accepts [host]:port with a port 0-65535 (0 picks a free one).
func CheckListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want [host]:port, such as :9797 or 127.0.0.1:9797")
	}
	return checkPort(port, true)
}

func checkPort(port string, zeroOK bool) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// SameListen reports whether two listen addresses would collide: same port
// and the same host, or either one on all interfaces.
func SameListen(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	any := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return sameHost(ha, hb) || any(ha) || any(hb)
}

// sameHost reports whether two hosts name one address, also when written
// differently: 127.0.0.1 and ::ffff:127.0.0.1, localhost and 127.0.0.1 or
// ::1.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	loopback := func(h string) bool {
		ip := net.ParseIP(h)
		return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
	}
	if strings.EqualFold(a, "localhost") || strings.EqualFold(b, "localhost") {
		return loopback(a) || loopback(b)
	}
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia != nil && ib != nil && ia.Equal(ib)
}
