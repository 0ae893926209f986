package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

// qlistSnapshot drives a machine with a qlist probe to a standby of the
// given mirror status ("Backup" or "Connected").
func qlistSnapshot(memberType, mirrorStatus string) *checker.Snapshot {
	sp := append(append([]checker.ProbeSpec(nil), specs...), checker.ProbeSpec{Name: probe.QListName, Target: "iris qlist IRIS"})
	m := checker.New(checker.Config{Rise: 1, Fall: 1, Lease: 1 << 62}, sp, t0)
	q := probe.QList{Instance: "IRIS", Version: "2024.1.0.262.0", Status: "running, since Tue Nov 25 09:12:44 2026", State: "ok",
		MemberType: memberType, MirrorStatus: mirrorStatus}
	out, reason := q.Classify()
	return observe(m, t0,
		probe.Result{Probe: probe.MirrorStatusName, Outcome: probe.NotPrimary, Reason: "mirror_status 503 FAILED"},
		probe.Result{Probe: probe.SuperServerName, Outcome: probe.Up, Reason: "superserver accepted"},
		probe.Result{Probe: probe.QListName, Outcome: out, Reason: reason, QList: &q})
}

func TestBackupAndAsyncPaths(t *testing.T) {
	for _, tc := range []struct {
		memberType, status string
		want               map[string]int
	}{
		{"Failover", "Backup", map[string]int{"/backup": 200, "/async": 503, "/standby": 200, "/primary": 503}},
		{"Disaster Recovery", "Connected", map[string]int{"/backup": 503, "/async": 200, "/standby": 200, "/primary": 503}},
	} {
		s := qlistSnapshot(tc.memberType, tc.status)
		h := &Handler{Snapshot: func() *checker.Snapshot { return s }}
		for path, code := range tc.want {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != code {
				t.Errorf("%s %s: %d %q, want %d", tc.status, path, rec.Code, rec.Body.String(), code)
			}
		}
	}
	// Without qlist the new paths exist and say why they cannot pass.
	h := handlerFor(checker.Standby)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/backup", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "--qlist-instance") {
		t.Errorf("/backup without qlist: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if !strings.Contains(rec.Body.String(), "/backup, /async") {
		t.Errorf("404 body should list every check path: %q", rec.Body.String())
	}
}

func TestStatusShowsQListAndMaintenance(t *testing.T) {
	s := qlistSnapshot("Failover", "Backup")
	h := &Handler{Snapshot: func() *checker.Snapshot { return s }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mirror != "backup" || st.Instance == nil || st.Instance.MirrorStatus != "Backup" || st.Instance.State != "ok" || !st.Checks["backup"] {
		t.Errorf("status %+v instance %+v", st, st.Instance)
	}
	if st.Maintenance {
		t.Error("maintenance without a switch")
	}
}

type countingCounter struct {
	checks   [checker.NumQuestions][2]atomic.Uint64
	external atomic.Uint64
}

func (c *countingCounter) CountCheck(ck checker.Question, ok, external bool) {
	i := 0
	if ok {
		i = 1
	}
	c.checks[ck][i].Add(1)
	if external {
		c.external.Add(1)
	}
}

func TestCounterAndNoAllocations(t *testing.T) {
	s := snapshotFor(checker.Primary)
	cnt := &countingCounter{}
	h := &Handler{Snapshot: func() *checker.Snapshot { return s }, Counter: cnt}
	get := func(path, ua string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	get("/primary", "")
	get("/", "")
	get("/standby", "")
	get("/primary", ExternalCheckUserAgent)
	get("/status", "")
	if n := cnt.checks[checker.AskPrimary][1].Load(); n != 3 {
		t.Errorf("primary passes counted %d, want 3", n)
	}
	if n := cnt.checks[checker.AskStandby][0].Load(); n != 1 {
		t.Errorf("standby failures counted %d, want 1", n)
	}
	if n := cnt.external.Load(); n != 1 {
		t.Errorf("external checks counted %d, want 1", n)
	}
	// The handler's own work allocates nothing once the snapshot is
	// rendered (the recorder and request are made outside the measure).
	req := httptest.NewRequest(http.MethodGet, "/primary", nil)
	req.Header.Set("User-Agent", "haproxy")
	w := &nullWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if n := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("ServeHTTP allocates %v times per request", n)
	}
}

// nullWriter is a ResponseWriter that keeps nothing.
type nullWriter struct{ h http.Header }

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nullWriter) WriteHeader(int)             {}
