package extcheck

import (
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Request is one GET to an agent.
type Request struct {
	Host      string // host:port, for the Host header
	Path      string // absolute path, maybe with a query
	UserAgent string
}

// bytes renders the request: HTTP/1.0, so the agent closes after its
// answer and the answer cannot be chunked.
func (r Request) bytes() ([]byte, error) {
	if !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, " \t\r\n") || strings.ContainsAny(r.Host+r.UserAgent, "\r\n") {
		return nil, errors.New("bad request for " + strconv.Quote(r.Host+r.Path))
	}
	return []byte("GET " + r.Path + " HTTP/1.0\r\nHost: " + r.Host + "\r\nUser-Agent: " + r.UserAgent + "\r\n\r\n"), nil
}

// Exchange sends req on rw and reads the answer with ReadAnswer. The
// caller sets rw's deadline: it bounds the whole exchange.
func Exchange(rw io.ReadWriter, req Request) (Answer, error) {
	check := CheckOf(req.Path)
	b, err := req.bytes()
	if err != nil {
		return Answer{Check: check}, err
	}
	if _, err := rw.Write(b); err != nil {
		return Answer{Check: check}, errors.New("send: " + err.Error())
	}
	return ReadAnswer(rw, check)
}

// Ask connects to addr, sends req and reads the answer, all before
// deadline, on a raw socket: no poller, no goroutine, no resolver.
func Ask(addr netip.AddrPort, req Request, deadline time.Time) (Answer, error) {
	c, err := dial(addr, deadline)
	if err != nil {
		return Answer{Check: CheckOf(req.Path)}, err
	}
	defer c.Close()
	return Exchange(c, req)
}

// Request is the GET of cfg's path on the agent of inv's server.
func (c Config) Request(inv Invocation) (Request, error) {
	hp, err := c.HostPort(inv)
	return Request{Host: hp, Path: c.Path, UserAgent: UserAgent}, err
}

// Describe renders an ask's outcome as one line: the URL, then what the
// agent said or why it could not be asked.
func Describe(url string, a Answer, err error) string {
	switch {
	case err != nil:
		return url + ": " + err.Error()
	case a.Code == 200 && !a.Pass:
		return url + ": 200 but not the agent's answer for " + a.Check + ": " + strconv.Quote(a.Line)
	case a.Line == "":
		return url + ": " + strconv.Itoa(a.Code)
	default:
		return url + ": " + strconv.Itoa(a.Code) + " " + a.Line
	}
}

// Fallback asks what the raw socket does not: HTTPS, or a server haproxy
// named by something other than an IP address. iris-mirror-agent has one;
// iris-mirror-check has none and fails such a check with a line saying so.
type Fallback func(cfg Config, url string) (Answer, error)

// Run is one external check as haproxy runs it: read the settings at
// confPath, ask the agent of inv's server, exit 0 only on its positive
// answer. It prints nothing when the check passes (unless the settings say
// debug = true) and one line when it fails. haproxy closes stdout unless
// it runs verbose; writes then fail, which is fine.
func Run(inv Invocation, confPath string, stdout io.Writer, fallback Fallback) int {
	say := func(ok bool, msg string) {
		word := "FAIL "
		if ok {
			word = "OK "
		}
		if inv.ServerName != "" {
			word += inv.ServerName + " "
		}
		_, _ = io.WriteString(stdout, word+msg+"\n")
	}
	cfg, err := LoadConfig(confPath)
	if err != nil {
		say(false, "external-check config: "+err.Error())
		return 1
	}
	url, err := cfg.URL(inv)
	if err != nil {
		say(false, err.Error())
		return 1
	}
	var a Answer
	addr, aerr := cfg.Addr(inv)
	switch {
	case cfg.Scheme == "http" && aerr == nil:
		req, _ := cfg.Request(inv) // HostPort succeeded in URL
		a, err = Ask(addr, req, time.Now().Add(cfg.Timeout))
	case fallback != nil:
		a, err = fallback(cfg, url)
	case cfg.Scheme != "http":
		err = errors.New("scheme = " + cfg.Scheme + " in " + confPath + ": iris-mirror-check speaks plain HTTP only; make iris-mirror-agent the external-check command")
	default:
		err = aerr
	}
	ok := err == nil && a.Pass
	if !ok || cfg.Debug {
		say(ok, Describe(url, a, err))
	}
	if ok {
		return 0
	}
	return 1
}
