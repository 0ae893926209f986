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
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// Handler serves the agent's HTTP endpoints.
//
//	/primary (and /)  200 iff the member is a routable primary
//	/standby          200 iff the member is a healthy standby
//	/health           200 iff IRIS is up (primary or standby)
//	/live             200 iff the agent runs and its answer is within its lease
//	/backup, /async   200 iff the member is that kind of standby (iris qlist)
//	/status           JSON view of the role and every probe
//
// Every /<question> path comes from checker.Questions(). GET, HEAD and
// OPTIONS get the same status (HEAD and OPTIONS without a body); other
// methods get 405, other paths 404. Answers are rendered once per
// snapshot; the lease is checked at every request, and an answer past it
// is rendered as it is asked ("stale: ...").
type Handler struct {
	Snapshot func() *checker.Snapshot
	Info     Info
	// Extra serves paths this handler does not know (such as /metrics);
	// nil means 404.
	Extra http.Handler
	// Counter, if set, is told about every question answered.
	Counter Counter
	// Live returns the parts of /status that change between snapshots
	// (gates and fence counters, the loop's counters), merged in under
	// their keys; nil means none. With it, /status is rendered per request;
	// the question paths never are.
	Live func() map[string]any
	// Now is the clock the lease is read with; nil means time.Now.
	Now func() time.Time

	cache atomic.Pointer[rendered]
}

// Counter counts answers for the metrics. It runs on every request, so it
// must not block or allocate (an atomic add).
type Counter interface {
	// CountCheck counts one answer; external is true when the client is
	// haproxy's external-check (the agent binary run by haproxy).
	CountCheck(q checker.Question, ok, external bool)
}

// ExternalCheckUserAgent is the User-Agent of the external-check mode
// (either binary), so its checks are counted apart from other HTTP
// clients.
const ExternalCheckUserAgent = extcheck.UserAgent

// Info is the static part of /status.
type Info struct {
	Member   string        `json:"member"`
	Version  string        `json:"version"`
	Interval time.Duration `json:"-"`
	Timeout  time.Duration `json:"-"`
	Lease    time.Duration `json:"-"`
	Rise     int           `json:"-"`
	Fall     int           `json:"-"`
}

type response struct {
	code   int
	body   []byte
	length []string // Content-Length header value
}

// rendered holds every answer of one snapshot while its lease holds.
type rendered struct {
	snap   *checker.Snapshot
	checks [checker.NumQuestions]response
	ok     [checker.NumQuestions]bool
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
	r = &rendered{snap: snap}
	for _, q := range checker.Questions() {
		v := snap.Verdict(q, snap.At) // the verdict as decided, lease aside
		r.ok[q] = v.OK
		r.checks[q] = questionResponse(q, v)
	}
	r.status = statusResponse(StatusOf(snap, h.Info, snap.At))
	h.cache.Store(r)
	return r
}

func questionResponse(q checker.Question, v checker.Verdict) response {
	code, body := http.StatusOK, q.String()+"\n"
	if !v.OK {
		code, body = http.StatusServiceUnavailable, "not "+q.String()+": "+v.Reason+"\n"
	} else if q == checker.AskHealth {
		body = "healthy: " + v.Reason + "\n"
	}
	return newResponse(code, []byte(body))
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// answer is q's response at now: the rendered one while the lease holds,
// the stale one rendered as asked once it has run out.
func (h *Handler) answer(q checker.Question) (response, bool) {
	rd := h.render()
	if v := rd.snap.Verdict(q, h.now()); v.Stale {
		return questionResponse(q, v), false
	}
	return rd.checks[q], rd.ok[q]
}

// status is /status at now.
func (h *Handler) status() response {
	rd := h.render()
	now := h.now()
	if h.Live == nil && rd.snap.Fresh(now) {
		return rd.status
	}
	st := StatusOf(rd.snap, h.Info, now)
	if h.Live != nil {
		st.Live = h.Live()
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
	if q, ok := checker.ParseQuestion(strings.TrimPrefix(path, "/")); ok {
		var pass bool
		res, pass = h.answer(q)
		if h.Counter != nil {
			ua := r.Header["User-Agent"]
			h.Counter.CountCheck(q, pass, len(ua) == 1 && ua[0] == ExternalCheckUserAgent)
		}
		if r.Method == http.MethodGet {
			// Every balancer's question, answered with the fewest header
			// writes: net/http derives the same Content-Type (text/plain;
			// charset=utf-8, sniffed from the body, which is always plain
			// text) and Content-Length (the body is written at once).
			// Cache-Control is set: no cache between a balancer and the
			// agent may answer for it.
			w.Header()["Cache-Control"] = hdrStore
			w.WriteHeader(res.code)
			_, _ = w.Write(res.body)
			return
		}
	} else if path == "/status" {
		ctyp = hdrJSON
		res = h.status()
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

// pathList names every question's path, for the 404 body.
func pathList() string {
	var b strings.Builder
	for i, q := range checker.Questions() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("/" + q.String())
	}
	return b.String()
}
