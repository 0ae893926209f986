// Command baseline is what the benchmark suite compares the agent with:
// the minimal Go servers answering the same questions with a constant.
//
//	baseline http ADDR         net/http, every request answered 200 "primary\n"
//	baseline http-agent ADDR   the same handler in the agent's http.Server
//	                           (httpapi.NewServer: its timeouts and limits,
//	                           and its connection limit, httpapi.LimitConns)
//	baseline tcp ADDR          accept, write "up ready 100%\n", close
//	baseline web ADDR          an application behind a gate: /bulk answers
//	                           1 MiB, any other path "primary\n"
//	baseline relay ADDR TARGET the smallest Go TCP relay (accept, dial
//	                           TARGET, io.Copy each way): the floor under
//	                           any user-space gate
//
// It lives under testdata so that it is built only by the suite.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/testbed/relay"
)

func main() {
	if len(os.Args) != 3 && !(len(os.Args) == 4 && os.Args[1] == "relay") {
		fmt.Fprintln(os.Stderr, "usage: baseline http|http-agent|web|tcp ADDR, or baseline relay ADDR TARGET")
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
	case "web":
		bulk := make([]byte, 1<<20)
		for i := range bulk {
			bulk[i] = byte('a' + i%26)
		}
		err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/bulk" {
				_, _ = w.Write(bulk)
				return
			}
			_, _ = w.Write(body)
		}))
	case "relay":
		err = relay.Serve(ln, os.Args[3])
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
