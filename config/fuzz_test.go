package config

import (
	"bytes"
	"errors"
	"flag"
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

// checkSettingError holds every bad-setting error to the same rule: one
// line, naming the setting (or saying what else is wrong with the command).
func checkSettingError(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error is not one line: %q", msg)
	}
	var se *Error
	if errors.As(err, &se) {
		if !strings.Contains(msg, "--"+se.Flag) && !strings.Contains(msg, se.Env) {
			t.Fatalf("error does not name its setting: %q", msg)
		}
		return
	}
	for _, ok := range []string{"unknown flag ", "unexpected argument ", "bad flag ", "flag needs an argument", "environment: ", "cannot find the agent"} {
		if strings.HasPrefix(msg, ok) {
			return
		}
	}
	t.Fatalf("error neither names a setting nor the argument at fault: %q", msg)
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

func FuzzLoadCheck(f *testing.F) {
	f.Add("--url\x00http://127.0.0.1:9797/primary", "")
	f.Add("--mirror-status-url\x00https://h/csp/mirror_status.cxw\x00--superserver\x00h:1972", "MIRROR_AGENT_CHECK_TIMEOUT=1s")
	f.Add("--timeout\x00-1s", "MIRROR_AGENT_CHECK_DIRECT=true")
	f.Fuzz(func(t *testing.T, args, environ string) {
		cfg, err := LoadCheck(splitNUL(args), splitNUL(environ), &bytes.Buffer{})
		if err != nil {
			checkSettingError(t, err)
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
		cfg, err := LoadHealthcheck(splitNUL(args), splitNUL(environ), &bytes.Buffer{})
		if err != nil {
			checkSettingError(t, err)
			return
		}
		if !strings.HasSuffix(cfg.URL, "/"+cfg.Endpoint) {
			t.Fatalf("URL %q does not ask /%s", cfg.URL, cfg.Endpoint)
		}
	})
}
