package config

import (
	"bytes"
	"strings"
	"testing"
)

// Fuzz inputs carry argv and environ as NUL-separated lists: neither can
// hold a NUL byte on a real system.
func splitNUL(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// checkSettingError fails t unless err is a well-formed settings error.
func checkSettingError(t *testing.T, err error) {
	t.Helper()
	if p := ErrorProblem(err); p != "" {
		t.Fatal(p)
	}
}

func FuzzLoadServe(f *testing.F) {
	f.Add("--interval\x00250ms\x00--timeout\x00500ms", "MIRROR_AGENT_FALL=3")
	f.Add("--http-listen\x00:9797\x00--agent-listen\x00:9797", "")
	f.Add("", "MIRROR_AGENT_INTERVAL=abc")
	f.Add("--mirror-status-url=http://u:p@h:1/x?y", "MIRROR_AGENT_SUPERSERVER=")
	f.Fuzz(func(t *testing.T, args, environ string) {
		cfg, err := LoadServe(splitNUL(args), splitNUL(environ), &bytes.Buffer{})
		if err != nil {
			checkSettingError(t, err)
			return
		}
		// What was accepted is valid, and stays so on a second look.
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted settings fail validation: %v", err)
		}
		if cfg.Interval < 10e6 || cfg.Timeout <= 0 || cfg.Rise < 1 || cfg.Fall < 1 || (cfg.HTTPListen == "" && cfg.AgentListen == "") {
			t.Fatalf("accepted %+v", cfg)
		}
		if SameListen(cfg.HTTPListen, cfg.AgentListen) {
			t.Fatalf("accepted the same port twice: %q %q", cfg.HTTPListen, cfg.AgentListen)
		}
	})
}
