// Package httpapi answers balancers over HTTP: 200 or 503 per check path,
// and a JSON /status, all rendered once per snapshot and served from memory.
package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
)

// Handler serves the agent's HTTP endpoints.
//
//	/primary (and /)  200 iff the member is a routable primary
//	/standby          200 iff the member is a healthy standby
//	/health           200 iff IRIS is up (primary or standby)
//	/live             200 iff the agent runs and its probe results are fresh
//	/status           JSON view of the role and every probe
//
// GET, HEAD and OPTIONS get the same status (HEAD and OPTIONS without a
// body); other methods get 405, other paths 404.
type Handler struct {
	Snapshot func() *checker.Snapshot
	Info     Info
	// Extra serves paths this handler does not know (such as /metrics);
	// nil means 404.
	Extra http.Handler

	cache atomic.Pointer[rendered]
}

// Info is the static part of /status.
type Info struct {
	Member   string        `json:"member"`
	Version  string        `json:"version"`
	Interval time.Duration `json:"-"`
	Timeout  time.Duration `json:"-"`
	Rise     int           `json:"-"`
	Fall     int           `json:"-"`
}

type response struct {
	code   int
	body   []byte
	length []string // Content-Length header value
}

type rendered struct {
	snap   *checker.Snapshot
	checks []response // indexed by checker.Check
	status response
}

var (
	hdrText  = []string{"text/plain; charset=utf-8"}
	hdrJSON  = []string{"application/json"}
	hdrStore = []string{"no-store"}
	hdrAllow = []string{"GET, HEAD, OPTIONS"}
)

func (h *Handler) render() *rendered {
	snap := h.Snapshot()
	r := h.cache.Load()
	if r != nil && r.snap == snap {
		return r
	}
	checks := checker.Checks()
	r = &rendered{snap: snap, checks: make([]response, len(checks))}
	for _, c := range checks {
		v := snap.Evaluate(c)
		code, body := http.StatusOK, c.String()+"\n"
		if !v.OK {
			code, body = http.StatusServiceUnavailable, "not "+c.String()+": "+v.Reason+"\n"
		} else if c == checker.CheckHealth {
			body = "healthy: " + v.Reason + "\n"
		}
		r.checks[c] = newResponse(code, []byte(body))
	}
	js, err := json.MarshalIndent(StatusOf(snap, h.Info), "", "  ")
	if err != nil {
		js = []byte(`{"error":"cannot render status"}`)
	}
	r.status = newResponse(http.StatusOK, append(js, '\n'))
	h.cache.Store(r)
	return r
}

func newResponse(code int, body []byte) response {
	return response{code: code, body: body, length: []string{strconv.Itoa(len(body))}}
}

// ServeHTTP routes without a mux: the set of paths is fixed and tiny.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	check, isCheck := checkOf(r.URL.Path)
	if isCheck && r.Method == http.MethodGet {
		// Every balancer's question, answered without touching w.Header():
		// a handler that sets a header makes net/http clone the header map
		// at WriteHeader (4 allocations per request with the map itself).
		// Left alone, net/http derives the same Content-Type (text/plain;
		// charset=utf-8, sniffed from the body, which is always plain text)
		// and Content-Length (the body is written at once) for free.
		res := h.render().checks[check]
		w.WriteHeader(res.code)
		_, _ = w.Write(res.body)
		return
	}
	var (
		res  response
		ctyp = hdrText
	)
	switch {
	case isCheck:
		res = h.render().checks[check]
	case r.URL.Path == "/status":
		res, ctyp = h.render().status, hdrJSON
	default:
		if h.Extra != nil {
			h.Extra.ServeHTTP(w, r)
			return
		}
		res = notFound
	}
	hdr := w.Header()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if res.code != http.StatusNotFound {
			hdr["Allow"] = hdrAllow
			res = notAllowed
		}
	}
	hdr["Content-Type"] = ctyp
	hdr["Cache-Control"] = hdrStore
	if r.Method == http.MethodOptions {
		hdr["Allow"] = hdrAllow
		hdr["Content-Length"] = zeroLength
		w.WriteHeader(res.code)
		return
	}
	hdr["Content-Length"] = res.length
	w.WriteHeader(res.code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(res.body)
	}
}

// checkOf maps a check path to its check; "/" is /primary for haproxy's
// bare "option httpchk" (OPTIONS / HTTP/1.0).
func checkOf(path string) (checker.Check, bool) {
	switch path {
	case "/primary", "/":
		return checker.CheckPrimary, true
	case "/standby":
		return checker.CheckStandby, true
	case "/health":
		return checker.CheckHealth, true
	case "/live":
		return checker.CheckLive, true
	}
	return 0, false
}

var (
	zeroLength = []string{"0"}
	notFound   = newResponse(http.StatusNotFound, []byte("not found: try /primary, /standby, /health, /live or /status\n"))
	notAllowed = newResponse(http.StatusMethodNotAllowed, []byte("method not allowed: use GET, HEAD or OPTIONS\n"))
)

// NewServer wraps h with the timeouts and limits a balancer-facing server
// needs: slow or idle clients are cut, headers are capped.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          nil,
	}
}
