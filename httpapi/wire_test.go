package httpapi

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/irismirror/iris-mirror-agent/checker"
)

// TestCheckHeadersOnTheWire: a GET of a check path is answered without
// setting headers (see ServeHTTP), so net/http must still send the
// plain-text type and the exact length of every check answer.
func TestCheckHeadersOnTheWire(t *testing.T) {
	for _, role := range []checker.Role{checker.Primary, checker.Standby, checker.Down, checker.Unknown} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := NewServer(handlerFor(role))
		go srv.Serve(ln) //nolint:errcheck
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
		paths := []string{"/"}
		for _, c := range checker.Questions() {
			paths = append(paths, "/"+c.String())
		}
		for _, path := range paths {
			resp, err := client.Get("http://" + ln.Addr().String() + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s GET %s: Content-Type %q", role, path, ct)
			}
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) || len(body) == 0 {
				t.Errorf("%s GET %s: Content-Length %q for a %d-byte body", role, path, cl, len(body))
			}
			if resp.Header.Get("Transfer-Encoding") != "" || len(resp.TransferEncoding) > 0 {
				t.Errorf("%s GET %s: chunked, want a plain body", role, path)
			}
		}
		client.CloseIdleConnections()
		srv.Close()
	}
}
