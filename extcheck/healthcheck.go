package extcheck

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Healthcheck is a Docker healthcheck that needs nothing but plain HTTP to
// an IP address: what the image runs with its defaults.
type Healthcheck struct {
	URL     string // as iris-mirror-agent healthcheck builds it, for messages
	Addr    netip.AddrPort
	Request Request
	Timeout time.Duration
}

// envPrefix is the agent's settings prefix (config.Prefix).
const envPrefix = "MIRROR_AGENT_"

// PlainHealthcheck reads iris-mirror-agent healthcheck's settings when they
// are only the environment variables below, valid, and lead to plain HTTP
// on an IP address. ok is false for anything else (flags, a URL, TLS, a
// host name, a value it would have to judge): iris-mirror-agent then reads
// them, with its rules and messages. A test in cmd/iris-mirror-agent holds
// the two readings together.
func PlainHealthcheck(args, environ []string) (hc Healthcheck, ok bool) {
	if len(args) > 0 {
		return hc, false
	}
	for _, k := range []string{"HEALTHCHECK_URL", "HEALTHCHECK_CA_FILE", "HEALTHCHECK_CLIENT_CERT_FILE", "HEALTHCHECK_CLIENT_KEY_FILE", "TLS_CERT_FILE"} {
		if _, set := LookupOK(environ, envPrefix+k); set {
			return hc, false
		}
	}
	setting := func(key, def string) string {
		if v, set := LookupOK(environ, envPrefix+key); set {
			return v
		}
		return def
	}
	endpoint := setting("HEALTHCHECK_ENDPOINT", "live")
	if endpoint != "live" && endpoint != "health" && endpoint != "primary" {
		return hc, false
	}
	timeout, err := time.ParseDuration(setting("HEALTHCHECK_TIMEOUT", "2s"))
	if err != nil || timeout <= 0 || timeout > time.Minute {
		return hc, false
	}
	host, port, ok := splitListen(setting("HTTP_LISTEN", ":9797"))
	if !ok {
		return hc, false
	}
	// As iris-mirror-agent: a wildcard listener is asked on 127.0.0.1.
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return hc, false
	}
	hostPort := host + ":" + strconv.Itoa(port)
	if strings.Contains(host, ":") {
		hostPort = "[" + host + "]:" + strconv.Itoa(port)
	}
	path := "/" + endpoint
	return Healthcheck{
		URL:     "http://" + hostPort + path,
		Addr:    netip.AddrPortFrom(ip, uint16(port)),
		Request: Request{Host: hostPort, Path: path, UserAgent: CheckUserAgent},
		Timeout: timeout,
	}, true
}

// splitListen splits host:port or [host]:port as net.SplitHostPort does,
// for a port written plainly (1-65535, no sign or leading zero).
func splitListen(s string) (host string, port int, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, false
	}
	host, p := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p || strings.ContainsAny(host, "[]") {
		return "", 0, false
	}
	return host, n, true
}
