package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/config"
)

// Fuzz inputs carry argv and environ as NUL-separated lists: neither can
// hold a NUL byte on a real system.
func splitNUL(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

func FuzzLoadCheck(f *testing.F) {
	f.Add("--url\x00http://127.0.0.1:9797/primary", "")
	f.Add("--mirror-status-url\x00https://h/csp/mirror_status.cxw\x00--superserver\x00h:1972", "MIRROR_AGENT_CHECK_TIMEOUT=1s")
	f.Add("--timeout\x00-1s", "MIRROR_AGENT_CHECK_DIRECT=true")
	f.Fuzz(func(t *testing.T, args, environ string) {
		cfg, err := loadCheck(splitNUL(args), splitNUL(environ), &bytes.Buffer{})
		if err != nil {
			if p := config.ErrorProblem(err); p != "" {
				t.Fatal(p)
			}
			return
		}
		if cfg.Timeout <= 0 {
			t.Fatalf("accepted timeout %v", cfg.Timeout)
		}
	})
}

func FuzzLoadHealthcheck(f *testing.F) {
	f.Add("--endpoint\x00health", "MIRROR_AGENT_HTTP_LISTEN=127.0.0.5:9797")
	f.Add("--url\x00http://127.0.0.1:9797", "")
	f.Add("", "MIRROR_AGENT_HTTP_LISTEN=:0")
	f.Fuzz(func(t *testing.T, args, environ string) {
		cfg, err := loadHealthcheck(splitNUL(args), splitNUL(environ), &bytes.Buffer{})
		if err != nil {
			if p := config.ErrorProblem(err); p != "" {
				t.Fatal(p)
			}
			return
		}
		if !strings.HasSuffix(cfg.URL, "/"+cfg.Endpoint) {
			t.Fatalf("URL %q does not ask /%s", cfg.URL, cfg.Endpoint)
		}
	})
}
