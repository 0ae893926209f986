package httpapi

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// TestExtcheckReadsTheAgent: the strict reader of the short-lived checkers
// (extcheck, iris-mirror-check) passes exactly the answers this handler
// gives with 200, on a real server, for every role and every check path.
// A change to the bodies that the reader does not follow fails here, not
// in production as a check that never passes.
func TestExtcheckReadsTheAgent(t *testing.T) {
	for _, role := range []checker.Role{checker.Primary, checker.Standby, checker.Down, checker.Unknown} {
		h := handlerFor(role)
		srv := httptest.NewUnstartedServer(h)
		srv.Config = NewServer(h)
		srv.Start()
		addr := netip.MustParseAddrPort(srv.Listener.Addr().String())
		paths := []string{"/"}
		for _, c := range checker.Questions() {
			paths = append(paths, "/"+c.String())
		}
		for _, path := range paths {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			req := extcheck.Request{Host: addr.String(), Path: path, UserAgent: extcheck.UserAgent}
			a, err := extcheck.Ask(addr, req, time.Now().Add(5*time.Second))
			if err != nil || a.Code != rec.Code || a.Pass != (rec.Code == 200) {
				t.Errorf("%s %s: the agent says %d %q; extcheck read %+v %v", role, path, rec.Code, rec.Body.String(), a, err)
			}
			// The same through the net package (iris-mirror-agent's dialer).
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			b, err := extcheck.Exchange(c, req)
			c.Close()
			if err != nil || b != a {
				t.Errorf("%s %s: over net %+v %v, raw %+v", role, path, b, err, a)
			}
		}
		srv.Close()
	}
}
