package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/testbed/agentload"
)

func TestRunPrintsJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("up ready 100%\n"))
			c.Close()
		}
	}()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-addr", ln.Addr().String(), "-max", "10", "-duration", "5s", "-expect", "up ready 100%"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res agentload.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Checks != 10 || res.Errors != 0 {
		t.Fatalf("%+v", res)
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "10.0.0.1:9798"},
		{"-workers", "0"},
		{"-duration", "0s"},
		{"-send", `bad\q`},
		{"-kind", "http", "-send", "primary"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 || !strings.HasPrefix(errb.String(), "agentload: invalid") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}
