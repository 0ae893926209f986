// Package relay is the smallest Go TCP relay: accept, dial the target,
// io.Copy each way, close. It keeps no state, no limits and no accounting,
// so the benchmarks use it as the floor under any user-space gate.
package relay

import (
	"io"
	"net"
)

// Serve relays every connection accepted on ln to target until ln closes.
func Serve(ln net.Listener, target string) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go relay(c, target)
	}
}

func relay(c net.Conn, target string) {
	defer c.Close()
	t, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer t.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(t, c)
		_ = t.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(c, t)
	_ = c.(*net.TCPConn).CloseWrite()
	<-done
}
