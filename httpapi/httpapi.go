// Package httpapi answers balancers over HTTP: 200 or 503 per check path,
// and a JSON /status, all rendered once per snapshot and served from memory.
package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
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
//	/backup, /async   200 iff the member is that kind of standby (iris qlist)
//	/status           JSON view of the role and every probe
//
// Every /<check> path comes from checker.Checks(). GET, HEAD and OPTIONS
// get the same status (HEAD and OPTIONS without a body); other methods get
// 405, other paths 404.
type Handler struct {
	Snapshot func() *checker.Snapshot
	Info     Info
	// Extra serves paths this handler does not know (such as /metrics);
	// nil means 404.
	Extra http.Handler
	// Counter, if set, is told about every check answered.
	Counter Counter
	// Gates returns the gates' live state for /status under "gates"; nil
	// means no gates. With gates, /status is rendered per request (its
	// counters change between snapshots); the check paths never are.
	Gates func() any
	// Fence returns the fence's live state for /status under "fence"
	// (rendered per request too); nil means no fence.
	Fence func() any

	cache atomic.Pointer[rendered]
}

// Counter counts answers for the metrics. It runs on every request, so it
// must not block or allocate (an atomic add).
type Counter interface {
	// CountCheck counts one check; external is true when the client is
	// haproxy's external-check (the agent binary run by haproxy).
	CountCheck(c checker.Check, ok, external bool)
}

// ExternalCheckUserAgent is the User-Agent of the external-check mode, so
// its checks are counted apart from other HTTP clients.
const ExternalCheckUserAgent = "iris-mirror-agent-external-check"

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
	ok     []bool     // indexed by checker.Check
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
	r = &rendered{snap: snap, checks: make([]response, len(checks)), ok: make([]bool, len(checks))}
	for _, c := range checks {
		v := snap.Evaluate(c)
		r.ok[c] = v.OK
		code, body := http.StatusOK, c.String()+"\n"
		if !v.OK {
			code, body = http.StatusServiceUnavailable, "not "+c.String()+": "+v.Reason+"\n"
		} else if c == checker.CheckHealth {
			body = "healthy: " + v.Reason + "\n"
		}
		r.checks[c] = newResponse(code, []byte(body))
	}
	r.status = statusResponse(StatusOf(snap, h.Info))
	h.cache.Store(r)
	return r
}

// liveStatus renders /status with the gates' and the fence's current
// counters.
func (h *Handler) liveStatus() response {
	st := StatusOf(h.render().snap, h.Info)
	if h.Gates != nil {
		st.Gates = h.Gates()
	}
	if h.Fence != nil {
		st.Fence = h.Fence()
	}
	return statusResponse(st)
}

func statusResponse(st Status) response {
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		js = []byte(`{"error":"cannot render status"}`)
	}
	return newResponse(http.StatusOK, append(js, '\n'))
}

func newResponse(code int, body []byte) response {
	return response{code: code, body: body, length: []string{strconv.Itoa(len(body))}}
}

// ServeHTTP routes without a mux: the set of paths is fixed and tiny.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var (
		res  response
		ctyp = hdrText
	)
	path := r.URL.Path
	if path == "/" {
		path = "/primary"
	}
	if c, ok := checker.ParseCheck(strings.TrimPrefix(path, "/")); ok {
		rd := h.render()
		res = rd.checks[c]
		if h.Counter != nil {
			ua := r.Header["User-Agent"]
			h.Counter.CountCheck(c, rd.ok[c], len(ua) == 1 && ua[0] == ExternalCheckUserAgent)
		}
		if r.Method == http.MethodGet {
			// Every balancer's question, answered without touching
			// w.Header(): a handler that sets a header makes net/http clone
			// the header map at WriteHeader (4 allocations per request with
			// the map itself). Left alone, net/http derives the same
			// Content-Type (text/plain; charset=utf-8, sniffed from the
			// body, which is always plain text) and Content-Length (the
			// body is written at once) for free.
			w.WriteHeader(res.code)
			_, _ = w.Write(res.body)
			return
		}
	} else if path == "/status" {
		ctyp = hdrJSON
		if h.Gates != nil || h.Fence != nil {
			res = h.liveStatus()
		} else {
			res = h.render().status
		}
	} else if h.Extra != nil {
		h.Extra.ServeHTTP(w, r)
		return
	} else {
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

var (
	zeroLength = []string{"0"}
	notFound   = newResponse(http.StatusNotFound, []byte("not found: try "+pathList()+" or /status\n"))
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

// pathList names every check path, for the 404 body.
func pathList() string {
	var b strings.Builder
	for i, c := range checker.Checks() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("/" + c.String())
	}
	return b.String()
}
