package probe

import (
	"bytes"
	"testing"
)

func FuzzClassifyMirrorStatus(f *testing.F) {
	f.Add(200, []byte("SUCCESS"))
	f.Add(200, []byte(" SUCCESS\r\n"))
	f.Add(503, []byte("FAILED"))
	f.Add(503, []byte("<html>Service Unavailable</html>"))
	f.Add(200, []byte("SUCCESS\u00a0"))
	f.Add(302, []byte("<html>moved</html>"))
	f.Add(200, []byte("\x00\xff#'\""))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		out, reason := ClassifyMirrorStatus(status, body)
		word := string(bytes.Trim(body, " \t\r\n\v\f"))
		primary := status == 200 && len(body) <= MaxBody && word == "SUCCESS"
		standby := status == 503 && len(body) <= MaxBody && word == "FAILED"
		switch {
		case primary && out != Primary:
			t.Fatalf("%d %q: %v, want primary", status, body, out)
		case !primary && out == Primary:
			t.Fatalf("%d %q: primary from a body that is not SUCCESS", status, body)
		case standby && out != NotPrimary:
			t.Fatalf("503 %q: %v, want not_primary", body, out)
		case !standby && out == NotPrimary:
			t.Fatalf("%d %q: not_primary without 503 FAILED", status, body)
		}
		// The reason goes into agent-check replies and logs: short,
		// printable, one line, never a '#' or a quote from the body.
		if len(reason) > 80 {
			t.Fatalf("reason %d bytes long", len(reason))
		}
		for _, c := range []byte(reason) {
			if c < 0x20 || c > 0x7e || c == '#' || c == '"' {
				t.Fatalf("reason %q holds %q", reason, c)
			}
		}
	})
}
