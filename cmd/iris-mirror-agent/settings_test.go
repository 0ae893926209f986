package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCheckAndHealthcheckSettings(t *testing.T) {
	c, err := loadCheck([]string{"--superserver", "127.0.0.1:1972"}, nil, &bytes.Buffer{})
	if err != nil || !c.Direct {
		t.Fatalf("--superserver must imply direct mode: %+v %v", c, err)
	}
	c, err = loadCheck(nil, []string{"MIRROR_AGENT_SUPERSERVER=10.0.0.1:1972"}, &bytes.Buffer{})
	if err != nil || c.Direct {
		t.Fatalf("serve's env must not switch check to direct mode: %+v %v", c, err)
	}
	if _, err := loadCheck([]string{"--url", "nope"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--url") {
		t.Fatalf("bad url: %v", err)
	}
	h, err := loadHealthcheck(nil, []string{"MIRROR_AGENT_HTTP_LISTEN=:19797"}, &bytes.Buffer{})
	if err != nil || h.URL != "http://127.0.0.1:19797/live" {
		t.Fatalf("healthcheck follows serve's port: %+v %v", h, err)
	}
	h, err = loadHealthcheck([]string{"--endpoint", "health"}, []string{"MIRROR_AGENT_HTTP_LISTEN=127.0.0.5:9797"}, &bytes.Buffer{})
	if err != nil || h.URL != "http://127.0.0.5:9797/health" {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := loadHealthcheck([]string{"--endpoint", "standby"}, nil, &bytes.Buffer{}); err == nil {
		t.Fatal("bad endpoint accepted")
	}
}

func TestAdminAndStatusSettings(t *testing.T) {
	if _, _, err := loadAdmin("x", "x", nil, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--admin-socket") {
		t.Errorf("no socket: %v", err)
	}
	cfg, rest, err := loadAdmin("x", "x", []string{"on"}, []string{"MIRROR_AGENT_ADMIN_SOCKET=/run/a.sock"}, &bytes.Buffer{})
	if err != nil || cfg.AdminSocket != "/run/a.sock" || len(rest) != 1 {
		t.Errorf("%+v %v %v", cfg, rest, err)
	}
	if _, _, err := loadStatus(nil, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no agent URL") {
		t.Errorf("no URLs: %v", err)
	}
	st, urls, err := loadStatus([]string{"--watch", "--interval", "1s", "http://a:9797", "http://b:9797"}, nil, &bytes.Buffer{})
	if err != nil || !st.Watch || st.Interval != time.Second || len(urls) != 2 {
		t.Errorf("%+v %v %v", st, urls, err)
	}
	if _, _, err := loadStatus([]string{"--interval", "1ms", "http://a"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--interval") {
		t.Errorf("bad interval: %v", err)
	}
}
