package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/irismirror/iris-mirror-agent/checker"
)

// discardWriter is a reusable ResponseWriter that allocates nothing, so
// the benchmark counts only what the handler allocates.
type discardWriter struct {
	hdr  http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header  { return w.hdr }
func (w *discardWriter) WriteHeader(code int) { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// BenchmarkHandler is one balancer request answered by the handler, net/http
// left out: route, pick the response rendered for the snapshot, set the
// headers, write the body.
func BenchmarkHandler(b *testing.B) {
	for _, bc := range []struct {
		name   string
		role   checker.Role
		method string
		path   string
	}{
		{"GET/primary/200", checker.Primary, http.MethodGet, "/primary"},
		{"GET/primary/503", checker.Standby, http.MethodGet, "/primary"},
		{"OPTIONS/", checker.Primary, http.MethodOptions, "/"},
		{"GET/status", checker.Primary, http.MethodGet, "/status"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := handlerFor(bc.role)
			req := httptest.NewRequest(bc.method, bc.path, nil)
			w := &discardWriter{hdr: http.Header{}}
			h.ServeHTTP(w, req) // render once per snapshot, as the first request does
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.hdr)
				h.ServeHTTP(w, req)
			}
			if w.code == 0 || (bc.method == http.MethodGet && w.n == 0) {
				b.Fatalf("no answer: code %d, %d bytes", w.code, w.n)
			}
		})
	}
}
