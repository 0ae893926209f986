// Package extcheck is what a short-lived process needs to ask an agent one
// question: haproxy's external-check invocation, its settings file, and
// one HTTP/1.0 GET over a raw socket with a strict reading of the answer.
//
// haproxy forks its external-check command once per server per interval,
// so that process's start is the check's cost. This package therefore
// imports neither net/http, crypto/tls, a logger nor metrics, and on Linux
// not even net: the small iris-mirror-check binary is built from it and
// the standard library's core, and iris-mirror-agent uses the same code for
// its external-check, check and healthcheck modes.
package extcheck

import "strings"

// ConfigPath is where the external-check mode reads its settings. haproxy
// passes no flags and clears the environment, so a file at a fixed path is
// the only channel. Inside haproxy's chroot the path is relative to the
// chroot (Debian: /var/lib/haproxy/etc/iris-mirror-agent/...).
const ConfigPath = "/etc/iris-mirror-agent/external-check.conf"

// UserAgent is the User-Agent of the external-check mode, so the agent
// counts these checks apart from other HTTP clients (its metrics' interface
// label "external-check").
const UserAgent = "iris-mirror-agent-external-check"

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

// Detect recognises haproxy's external-check call: four positional
// arguments and HAPROXY_SERVER_ADDR in the environment, or the NOT_USED
// marker haproxy puts in a backend's proxy fields.
func Detect(args []string, getenv func(string) string) (Invocation, bool) {
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

// Lookup turns an environment list (as os.Environ) into a getenv function.
// The last assignment of a name wins, as in the agent's settings.
func Lookup(environ []string) func(string) string {
	return func(key string) string {
		v, _ := LookupOK(environ, key)
		return v
	}
}

// LookupOK is Lookup for one name, telling an empty value from none.
func LookupOK(environ []string, key string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// CheckUserAgent is the User-Agent of the check and healthcheck commands.
const CheckUserAgent = "iris-mirror-agent-check"
