package extcheck

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config says where the agent of a checked server listens.
type Config struct {
	Scheme  string        // http or https
	Port    int           // agent HTTP port on the server's address
	Path    string        // check path, /primary unless told otherwise
	Timeout time.Duration // the whole check: connect, ask, read the answer

	// For scheme https: the CA bundle that signed the agents'
	// certificates, a client certificate for agents that ask for one, or
	// no verification at all.
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool

	// Debug prints a line for every check, passed or failed. Off, a
	// passing check prints nothing (haproxy shows a check's output only
	// when it runs verbose, and a line per check per server floods it).
	Debug bool
}

// DefaultConfig asks <server_addr>:9797/primary within 1s.
func DefaultConfig() Config {
	return Config{Scheme: "http", Port: 9797, Path: "/primary", Timeout: time.Second}
}

// knownKeys is the list the unknown-key error gives.
const knownKeys = "scheme, port, path, timeout, debug, ca_file, cert_file, key_file, insecure_skip_verify"

// LoadConfig reads path over the defaults. A missing file is not an
// error: zero configuration is the common case.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return DefaultConfig(), nil
	}
	if err != nil {
		return DefaultConfig(), err
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// confError names the file and line of a bad setting, on one line.
type confError struct {
	name string
	line int // 0: the file as a whole
	msg  string
}

func (e *confError) Error() string {
	if e.line == 0 {
		return e.name + ": " + e.msg
	}
	return e.name + ":" + strconv.Itoa(e.line) + ": " + e.msg
}

// ParseConfig reads "key = value" lines (# comments) with the keys in
// knownKeys.
func ParseConfig(r io.Reader, name string) (Config, error) {
	cfg := DefaultConfig()
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		// A comment runs from '#' at the start of a line or after a
		// space or tab ("port = 9797   # ...").
		if i := strings.Index(text, " #"); i >= 0 {
			text = text[:i]
		}
		if i := strings.Index(text, "\t#"); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, val, ok := strings.Cut(text, "=")
		if !ok {
			return cfg, &confError{name, line, "want key = value"}
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if msg := cfg.set(key, val); msg != "" {
			return cfg, &confError{name, line, msg}
		}
	}
	if err := sc.Err(); err != nil {
		return cfg, &confError{name, 0, err.Error()}
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return cfg, &confError{name, 0, "cert_file and key_file go together"}
	}
	return cfg, nil
}

// set applies one key; it returns what is wrong, or "".
func (c *Config) set(key, val string) string {
	bad := func(why string) string { return key + " " + strconv.Quote(val) + ": " + why }
	switch key {
	case "scheme":
		if val != "http" && val != "https" {
			return bad("must be http or https")
		}
		c.Scheme = val
	case "port":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 65535 {
			return bad("must be a port 1-65535")
		}
		c.Port = n
	case "path":
		if !validPath(val) {
			return bad("must start with / and hold only URL path characters (no spaces, '?' or '#')")
		}
		c.Path = val
	case "timeout":
		d, err := time.ParseDuration(val)
		if err != nil || d < time.Millisecond || d > time.Minute {
			return bad("must be a duration between 1ms and 1m, such as 500ms")
		}
		c.Timeout = d
	case "ca_file", "cert_file", "key_file":
		if !strings.HasPrefix(val, "/") {
			return bad("must be an absolute path")
		}
		switch key {
		case "ca_file":
			c.CAFile = val
		case "cert_file":
			c.CertFile = val
		default:
			c.KeyFile = val
		}
	case "insecure_skip_verify", "debug":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return bad("must be true or false")
		}
		if key == "debug" {
			c.Debug = b
		} else {
			c.InsecureSkipVerify = b
		}
	default:
		return "unknown key " + strconv.Quote(key) + " (known: " + knownKeys + ")"
	}
	return ""
}

// validPath accepts an absolute URL path as RFC 3986 spells it (pchar and
// '/'): the path goes into the request line as it is, so nothing in it may
// end the line or start a query.
func validPath(p string) bool {
	if !strings.HasPrefix(p, "/") || len(p) > 1024 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Addr is the agent's address for the invoked server. haproxy passes the
// server's address as an IP address; a name (which would need a resolver)
// is an error here. See URL for clients that resolve names.
func (c Config) Addr(inv Invocation) (netip.AddrPort, error) {
	ip, err := netip.ParseAddr(inv.ServerAddr)
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, errors.New("server address " + strconv.Quote(inv.ServerAddr) + " from haproxy is not an IP address")
	}
	return netip.AddrPortFrom(ip, uint16(c.Port)), nil
}

// HostPort is the agent's host:port for inv as the URL and the Host
// header carry it: the address as haproxy wrote it, IPv6 in brackets.
func (c Config) HostPort(inv Invocation) (string, error) {
	host := inv.ServerAddr
	ip, err := netip.ParseAddr(host)
	switch {
	case err == nil && ip.Zone() == "":
		if ip.Is6() {
			host = "[" + host + "]"
		}
	case !isHostName(host):
		return "", errors.New("bad server address " + strconv.Quote(host) + " from haproxy")
	}
	return host + ":" + strconv.Itoa(c.Port), nil
}

// URL is the agent endpoint to ask for the invoked server.
func (c Config) URL(inv Invocation) (string, error) {
	hp, err := c.HostPort(inv)
	if err != nil {
		return "", err
	}
	return c.Scheme + "://" + hp + c.Path, nil
}

// isHostName accepts letters, digits, '-', '_' and '.': anything else
// could turn into another part of the URL.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
