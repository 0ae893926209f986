package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeOpsDefaults(t *testing.T) {
	cfg, err := LoadServe(nil, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QListInstance != "" || cfg.IrisBin != "iris" || !cfg.Metrics || cfg.DrainFile != "" || cfg.AdminSocket != "" ||
		cfg.AdminSocketPerm() != 0o600 || cfg.PokeMinInterval != 50*time.Millisecond || cfg.OnChange != "" || cfg.OnChangeTimeout != 10*time.Second {
		t.Fatalf("ops defaults: %+v", cfg)
	}
}

func TestServeOpsSettings(t *testing.T) {
	dir := t.TempDir()
	iris := filepath.Join(dir, "iris")
	if err := os.WriteFile(iris, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadServe([]string{"--qlist-instance", "IRIS", "--iris-bin", iris, "--drain-file", filepath.Join(dir, "drain"),
		"--admin-socket", filepath.Join(dir, "admin.sock"), "--admin-socket-mode", "0660", "--on-change", iris + " --flag x"},
		[]string{"MIRROR_AGENT_POKE_MIN_INTERVAL=50ms"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminSocketPerm() != 0o660 || cfg.PokeMinInterval != 50*time.Millisecond || strings.Join(cfg.OnChangeArgv(), "|") != iris+"|--flag|x" {
		t.Fatalf("%+v", cfg)
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--qlist-instance", "IRIS", "--iris-bin", "/nonexistent/iris"}, "--iris-bin"},
		{[]string{"--qlist-instance", "IR IS"}, "--qlist-instance"},
		{[]string{"--drain-file", "/nonexistent/dir/drain"}, "--drain-file"},
		{[]string{"--admin-socket", "/nonexistent/dir/admin.sock"}, "--admin-socket"},
		{[]string{"--admin-socket-mode", "0666"}, "--admin-socket-mode"},
		{[]string{"--admin-socket-mode", "0400"}, "--admin-socket-mode"},
		{[]string{"--admin-socket-mode", "rw"}, "--admin-socket-mode"},
		{[]string{"--poke-min-interval", "1ms"}, "--poke-min-interval"},
		{[]string{"--on-change", "/nonexistent/hook arg"}, "--on-change"},
		{[]string{"--on-change-timeout", "0s"}, "--on-change-timeout"},
	} {
		_, err := LoadServe(tc.args, nil, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.flag+" ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
}
