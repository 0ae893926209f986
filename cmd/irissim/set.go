package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func controlFlags(name, synopsis string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	withUsage(fs, stderr, synopsis)
	control := fs.String("control", "127.0.0.1:52780", "control endpoint of the member")
	return fs, control
}

func runSet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, control := controlFlags("irissim set", `Usage: irissim set [flags] STATE

Change a running member's state: primary, backup, async, hang or down.`, stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "irissim set: want one state: primary, backup, async, hang or down")
		return 2
	}
	body, err := call(ctx, http.MethodPut, "http://"+*control+"/state", fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "irissim set: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, body)
	return 0
}

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, control := controlFlags("irissim get", `Usage: irissim get [flags]

Print a running member's state and request counters (JSON).`, stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	body, err := call(ctx, http.MethodGet, "http://"+*control+"/stats", "")
	if err != nil {
		fmt.Fprintf(stderr, "irissim get: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, body)
	return 0
}

func call(ctx context.Context, method, url, body string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}
