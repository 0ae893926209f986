package haproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ExternalCheckConfigPath is where the external-check mode reads its
// settings. haproxy passes no flags and clears the environment, so a file
// at a fixed path is the only channel. Inside haproxy's chroot the path is
// relative to the chroot (Debian: /var/lib/haproxy/etc/iris-mirror-agent/...).
const ExternalCheckConfigPath = "/etc/iris-mirror-agent/external-check.conf"

// Invocation is what haproxy told us when it ran us as an external check:
//
//	<command> <proxy_addr> <proxy_port> <server_addr> <server_port>
//
// In a backend the proxy address and port are the string NOT_USED.
type Invocation struct {
	ProxyAddr, ProxyPort   string
	ServerAddr, ServerPort string
	ServerName             string // HAPROXY_SERVER_NAME, for messages
}

// DetectExternalCheck recognises haproxy's external-check call: four
// positional arguments and HAPROXY_SERVER_* in the environment, or the
// NOT_USED marker haproxy puts in a backend's proxy fields.
func DetectExternalCheck(args []string, getenv func(string) string) (Invocation, bool) {
	envAddr := getenv("HAPROXY_SERVER_ADDR")
	if len(args) != 4 || (envAddr == "" && args[0] != "NOT_USED") {
		return Invocation{}, false
	}
	return Invocation{
		ProxyAddr: args[0], ProxyPort: args[1],
		ServerAddr: args[2], ServerPort: args[3],
		ServerName: getenv("HAPROXY_SERVER_NAME"),
	}, true
}

// ExternalCheckConfig says where the agent of a checked server listens.
type ExternalCheckConfig struct {
	Scheme  string        // http or https
	Port    int           // agent HTTP port on the server's address
	Path    string        // check path, /primary unless told otherwise
	Timeout time.Duration // whole check, well inside haproxy's

	// For scheme https: the CA bundle that signed the agents'
	// certificates, a client certificate for agents that ask for one, or
	// no verification at all.
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool
}

// DefaultExternalCheckConfig asks <server_addr>:9797/primary within 1s.
func DefaultExternalCheckConfig() ExternalCheckConfig {
	return ExternalCheckConfig{Scheme: "http", Port: 9797, Path: "/primary", Timeout: time.Second}
}

// LoadExternalCheckConfig reads path over the defaults. A missing file is
// not an error: zero configuration is the common case.
func LoadExternalCheckConfig(path string) (ExternalCheckConfig, error) {
	cfg := DefaultExternalCheckConfig()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	defer f.Close()
	return ParseExternalCheckConfig(f, path)
}

// ParseExternalCheckConfig reads "key = value" lines (# comments) with the
// keys scheme, port, path and timeout.
func ParseExternalCheckConfig(r io.Reader, name string) (ExternalCheckConfig, error) {
	cfg := DefaultExternalCheckConfig()
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		// A comment runs from '#' at the start of a line or after a
		// space, as in the README's example ("port = 9797   # ...").
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
			return cfg, fmt.Errorf("%s:%d: want key = value", name, line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s %q: %s", name, line, key, val, why) }
		switch key {
		case "scheme":
			if val != "http" && val != "https" {
				return cfg, bad("must be http or https")
			}
			cfg.Scheme = val
		case "port":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 65535 {
				return cfg, bad("must be a port 1-65535")
			}
			cfg.Port = n
		case "path":
			if !strings.HasPrefix(val, "/") || strings.ContainsAny(val, " \t?#") {
				return cfg, bad("must start with / and hold no spaces, '?' or '#'")
			}
			cfg.Path = val
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 || d > time.Minute {
				return cfg, bad("must be a duration between 1ms and 1m, such as 500ms")
			}
			cfg.Timeout = d
		case "ca_file", "cert_file", "key_file":
			if !strings.HasPrefix(val, "/") {
				return cfg, bad("must be an absolute path")
			}
			switch key {
			case "ca_file":
				cfg.CAFile = val
			case "cert_file":
				cfg.CertFile = val
			default:
				cfg.KeyFile = val
			}
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return cfg, bad("must be true or false")
			}
			cfg.InsecureSkipVerify = b
		default:
			return cfg, fmt.Errorf("%s:%d: unknown key %q (known: scheme, port, path, timeout, ca_file, cert_file, key_file, insecure_skip_verify)", name, line, key)
		}
	}
	if err := sc.Err(); err != nil {
		return cfg, fmt.Errorf("%s: %w", name, err)
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return cfg, fmt.Errorf("%s: cert_file and key_file go together", name)
	}
	return cfg, nil
}

// URL is the agent endpoint to ask for the invoked server.
func (c ExternalCheckConfig) URL(inv Invocation) (string, error) {
	host := inv.ServerAddr
	if net.ParseIP(host) == nil && !isHostName(host) {
		return "", fmt.Errorf("bad server address %q from haproxy", host)
	}
	u := url.URL{Scheme: c.Scheme, Host: net.JoinHostPort(host, strconv.Itoa(c.Port)), Path: c.Path}
	return u.String(), nil
}

// isHostName accepts letters, digits, '-', '_' and '.': haproxy passes an
// address, and anything else could turn into another part of the URL.
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
