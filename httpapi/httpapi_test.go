package httpapi

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

var specs = []checker.ProbeSpec{
	{Name: probe.MirrorStatusName, Target: "http://127.0.0.1:52773/csp/mirror_status.cxw"},
	{Name: probe.SuperServerName, Target: "127.0.0.1:1972"},
}

// snapshotFor drives a real state machine into a role.
func snapshotFor(role checker.Role) *checker.Snapshot {
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: forever}, specs, t0)
	up := probe.Result{Probe: probe.SuperServerName, Outcome: probe.Up, Reason: "superserver accepted"}
	switch role {
	case checker.Primary:
		return observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.Primary, Reason: "mirror_status 200 SUCCESS"}, up)
	case checker.Standby:
		return observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.NotPrimary, Reason: "mirror_status 503 FAILED"}, up)
	case checker.Down:
		return observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.Error, Reason: "mirror_status timeout"},
			probe.Result{Probe: probe.SuperServerName, Outcome: probe.Error, Reason: "superserver connection refused"})
	}
	return m.Snapshot()
}

func handlerFor(role checker.Role) *Handler {
	s := snapshotFor(role)
	return &Handler{Snapshot: func() *checker.Snapshot { return s }, Info: Info{Member: "ap1a", Version: "test"}}
}

func TestPathsByRole(t *testing.T) {
	want := map[checker.Role]map[string]int{
		checker.Primary: {"/primary": 200, "/": 200, "/standby": 503, "/health": 200, "/live": 200, "/status": 200},
		checker.Standby: {"/primary": 503, "/": 503, "/standby": 200, "/health": 200, "/live": 200, "/status": 200},
		checker.Down:    {"/primary": 503, "/": 503, "/standby": 503, "/health": 503, "/live": 200, "/status": 200},
		checker.Unknown: {"/primary": 503, "/": 503, "/standby": 503, "/health": 503, "/live": 200, "/status": 200},
	}
	for role, paths := range want {
		h := handlerFor(role)
		for path, code := range paths {
			for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
				if rec.Code != code {
					t.Errorf("%s %s %s: %d, want %d", role, method, path, rec.Code, code)
				}
				body := rec.Body.String()
				if method != http.MethodGet && body != "" {
					t.Errorf("%s %s %s: body %q, want none", role, method, path, body)
				}
				if method == http.MethodGet && body == "" {
					t.Errorf("%s GET %s: empty body", role, path)
				}
				// Content-Length and Content-Type of a GET come from net/http:
				// TestCheckHeadersOnTheWire checks them on a real server.
			}
		}
	}
}

func TestBodies(t *testing.T) {
	get := func(h *Handler, path string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Body.String()
	}
	if b := get(handlerFor(checker.Primary), "/primary"); b != "primary\n" {
		t.Errorf("primary body %q", b)
	}
	if b := get(handlerFor(checker.Standby), "/primary"); b != "not primary: role standby: mirror_status 503 FAILED\n" {
		t.Errorf("standby /primary body %q", b)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	h := handlerFor(checker.Primary)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "BREW"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/primary", strings.NewReader("x")))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("%s /primary: %d allow=%q", method, rec.Code, rec.Header().Get("Allow"))
		}
	}
	for _, path := range []string{"/nope", "/primary/", "/PRIMARY", "/status.json", "/../primary"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	h := &Handler{Info: Info{Member: "ap1a", Version: "v9", Interval: time.Second, Timeout: 800 * time.Millisecond, Rise: 2, Fall: 3}}
	s := snapshotFor(checker.Standby)
	h.Snapshot = func() *checker.Snapshot { return s }
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Member != "ap1a" || st.Role != "standby" || st.Routable || !st.Checks["standby"] || st.Checks["primary"] ||
		st.Version != "v9" || len(st.Probes) != 2 || st.Probes[0].Outcome != "not_primary" || st.Settings.Fall != 3 {
		t.Fatalf("status %+v", st)
	}
}

func TestCacheFollowsSnapshot(t *testing.T) {
	cur := snapshotFor(checker.Primary)
	h := &Handler{Snapshot: func() *checker.Snapshot { return cur }}
	code := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/primary", nil))
		return rec.Code
	}
	if code() != 200 {
		t.Fatal("primary")
	}
	cur = snapshotFor(checker.Standby)
	if code() != 503 {
		t.Fatal("the cached answer outlived its snapshot")
	}
}

// TestRawHTTP sends what haproxy sends, byte for byte, to a real server.
func TestRawHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(handlerFor(checker.Primary))
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })

	cases := []struct {
		req        string
		wantStatus string
		wantBody   bool
	}{
		{"OPTIONS / HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK", false},                                   // plain option httpchk
		{"GET /primary HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK", true},                                 // no Host
		{"HEAD /primary HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK", false},                               // no Host
		{"GET /standby HTTP/1.0\r\n\r\n", "HTTP/1.0 503 Service Unavailable", true},                // not standby
		{"GET /primary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK", true}, // httpchk with hdr Host
		{"DELETE /primary HTTP/1.0\r\n\r\n", "HTTP/1.0 405 Method Not Allowed", true},
	}
	for _, tc := range cases {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, tc.req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(tc.req)[0]})
		if err != nil {
			t.Fatalf("%q: %v", tc.req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if got := resp.Proto + " " + resp.Status; got != tc.wantStatus {
			t.Errorf("%q: %q, want %q", tc.req, got, tc.wantStatus)
		}
		if (len(body) > 0) != tc.wantBody {
			t.Errorf("%q: body %q", tc.req, body)
		}
	}
}

func TestOversizedHeadersRejected(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(handlerFor(checker.Primary))
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET /primary HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.Contains(line, "431") {
		t.Fatalf("64 KB header: %q, want 431", line)
	}
}

// statusDoc GETs /status from h and decodes it.
func statusDoc(t *testing.T, h *Handler) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return doc
}

func TestStatusShowsLiveGates(t *testing.T) {
	h := handlerFor(checker.Primary)
	get := func() map[string]any { return statusDoc(t, h) }
	if _, ok := get()["gates"]; ok {
		t.Fatal("no gates configured: /status must not carry a gates field")
	}
	n := 0
	h.Live = func() map[string]any {
		n++
		return map[string]any{"gates": []map[string]any{{"listen": ":52774", "sessions_total": n}}}
	}
	first, second := get(), get()
	g1 := first["gates"].([]any)[0].(map[string]any)
	g2 := second["gates"].([]any)[0].(map[string]any)
	if g1["listen"] != ":52774" || g1["sessions_total"] == g2["sessions_total"] {
		t.Fatalf("gates must be rendered per request: %v then %v", g1, g2)
	}
	if first["role"] != "primary" {
		t.Fatalf("role %v", first["role"])
	}
}

// observe feeds a round that started and finished at now; forever is a
// lease that outlives the test (readers here read it with the real clock).
func observe(m *checker.Machine, now time.Time, results ...probe.Result) *checker.Snapshot {
	s, _ := m.Observe(now, now, results...)
	return s
}

const forever = 100 * 365 * 24 * time.Hour

// TestEveryAnswerIsNotCached: no cache between a balancer and the agent
// may answer for it, whatever the method or the answer.
func TestEveryAnswerIsNotCached(t *testing.T) {
	for _, role := range []checker.Role{checker.Primary, checker.Standby} {
		h := handlerFor(role)
		for _, q := range checker.Questions() {
			for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(method, "/"+q.String(), nil))
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("%s %s /%s: Cache-Control %q", role, method, q, cc)
				}
			}
		}
	}
}

// TestStaleAnswers: past its lease a snapshot fails every question with
// the stale reason, on the check paths and in /status, although nothing
// published a new snapshot; back inside a lease it answers as rendered.
func TestStaleAnswers(t *testing.T) {
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: time.Second}, specs, t0)
	s := observe(m, t0, probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.Primary, Reason: "mirror_status 200 SUCCESS"},
		probe.Result{Probe: probe.SuperServerName, Outcome: probe.Up, Reason: "superserver accepted"})
	now := t0.Add(500 * time.Millisecond)
	h := &Handler{Snapshot: func() *checker.Snapshot { return s }, Now: func() time.Time { return now }}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := get("/primary"); rec.Code != 200 {
		t.Fatalf("inside the lease: %d %s", rec.Code, rec.Body)
	}
	now = t0.Add(1200 * time.Millisecond)
	for _, q := range checker.Questions() {
		rec := get("/" + q.String())
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), "stale: no probe result for 1.2s") {
			t.Errorf("/%s past the lease: %d %q", q, rec.Code, rec.Body)
		}
	}
	var st map[string]any
	if err := json.Unmarshal(get("/status").Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st["fresh"] != false || st["routable"] != false || !strings.HasPrefix(st["reason"].(string), "stale") {
		t.Errorf("/status past the lease: fresh %v routable %v reason %v", st["fresh"], st["routable"], st["reason"])
	}
}
