package main

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// envPrefix is the agent's settings prefix (config.Prefix).
const envPrefix = "MIRROR_AGENT_"

// plainHC is a healthcheck that needs nothing but plain HTTP to an IP
// address: what the image runs with its defaults.
type plainHC struct {
	url     string // as iris-mirror-agent healthcheck builds it
	addr    netip.AddrPort
	req     extcheck.Request
	timeout time.Duration
}

// runHealthcheck is Docker's HEALTHCHECK: exit 0 if the local agent gives
// its positive answer on the endpoint (live by default, so a healthy
// backup's container is healthy), else 1, never 2 (Docker reserves it).
func runHealthcheck(args, environ []string, stdout, stderr io.Writer) int {
	hc, ok := plainHealthcheck(args, environ)
	if !ok {
		return delegate(args, environ, stderr)
	}
	a, err := extcheck.Ask(hc.addr, hc.req, time.Now().Add(hc.timeout))
	msg := extcheck.Describe(hc.url, a, err)
	if err != nil || !a.Pass {
		_, _ = io.WriteString(stdout, "unhealthy "+msg+"\n")
		return exitFail
	}
	_, _ = io.WriteString(stdout, "healthy "+msg+"\n")
	return exitOK
}

// plainHealthcheck reads iris-mirror-agent healthcheck's settings when they
// are only the environment variables below, valid, and lead to plain HTTP
// on an IP address; ok is false for anything else (flags, a URL, TLS, a
// host name, a value it would have to judge), which iris-mirror-agent then
// reads, with the same rules and messages as ever. TestHealthcheckAgrees
// holds the two readings together.
func plainHealthcheck(args, environ []string) (plainHC, bool) {
	if len(args) > 0 {
		return plainHC{}, false
	}
	for _, k := range []string{"HEALTHCHECK_URL", "HEALTHCHECK_CA_FILE", "HEALTHCHECK_CLIENT_CERT_FILE", "HEALTHCHECK_CLIENT_KEY_FILE", "TLS_CERT_FILE"} {
		if _, set := extcheck.LookupOK(environ, envPrefix+k); set {
			return plainHC{}, false
		}
	}
	setting := func(key, def string) string {
		if v, set := extcheck.LookupOK(environ, envPrefix+key); set {
			return v
		}
		return def
	}
	endpoint := setting("HEALTHCHECK_ENDPOINT", "live")
	if endpoint != "live" && endpoint != "health" && endpoint != "primary" {
		return plainHC{}, false
	}
	timeout, err := time.ParseDuration(setting("HEALTHCHECK_TIMEOUT", "2s"))
	if err != nil || timeout <= 0 || timeout > time.Minute {
		return plainHC{}, false
	}
	host, port, ok := splitListen(setting("HTTP_LISTEN", ":9797"))
	if !ok {
		return plainHC{}, false
	}
	// As config.LoadHealthcheck: a wildcard listener is asked on 127.0.0.1.
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return plainHC{}, false
	}
	hostPort := host + ":" + strconv.Itoa(port)
	if strings.Contains(host, ":") {
		hostPort = "[" + host + "]:" + strconv.Itoa(port)
	}
	path := "/" + endpoint
	return plainHC{
		url:     "http://" + hostPort + path,
		addr:    netip.AddrPortFrom(ip, uint16(port)),
		req:     extcheck.Request{Host: hostPort, Path: path, UserAgent: extcheck.CheckUserAgent},
		timeout: timeout,
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

// delegate runs iris-mirror-agent healthcheck from the same directory (the
// image ships both) in place of this process, so its exit code is the
// healthcheck's.
func delegate(args, environ []string, stderr io.Writer) int {
	self, err := os.Executable()
	if err == nil {
		big := filepath.Join(filepath.Dir(self), "iris-mirror-agent")
		err = syscall.Exec(big, append([]string{big, "healthcheck"}, args...), environ)
	}
	_, _ = io.WriteString(stderr, "iris-mirror-check healthcheck: these settings (flags, a URL, TLS or a host name) are read by iris-mirror-agent healthcheck, "+
		"which should be next to this binary: "+err.Error()+"\n")
	return exitFail
}
