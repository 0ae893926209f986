// Command baseline is what the benchmark suite compares the agent with:
// the minimal Go servers answering the same questions with a constant.
//
//	baseline http ADDR         net/http, every request answered 200 "primary\n"
//	baseline http-agent ADDR   the same handler in the agent's http.Server
//	                           (httpapi.NewServer: its timeouts and limits,
//	                           and its connection limit, httpapi.LimitConns)
//	baseline tcp ADDR          accept, write "up ready 100%\n", close
//
// It lives under testdata so that it is built only by the suite.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/irismirror/iris-mirror-agent/httpapi"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: baseline http|http-agent|tcp ADDR")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	body := []byte("primary\n")
	constant := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	switch os.Args[1] {
	case "http":
		err = http.Serve(ln, constant)
	case "http-agent":
		srv := httpapi.NewServer(constant)
		limited, _ := httpapi.LimitConns(srv, ln, httpapi.MaxConns)
		err = srv.Serve(limited)
	case "tcp":
		line := []byte("up ready 100%\n")
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			_, _ = c.Write(line)
			c.Close()
		}
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	fmt.Fprintln(os.Stderr, "baseline:", err)
	os.Exit(1)
}
