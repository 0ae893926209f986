// Package admin is the agent's local control channel: a unix socket that
// takes one command line and answers one line. Commands that change what
// balancers see (maintenance) or how often IRIS is probed (poke) are only
// ever taken here, never on the agent's TCP ports: the socket's file mode
// decides who may use it.
package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Handler answers one command (the line without its newline, already
// trimmed) with one line. It runs on the connection's goroutine.
type Handler func(cmd string) string

// maxLine bounds a command; the longest real one is a dozen bytes.
const maxLine = 256

// Listen creates the socket at path with the given permissions. A stale
// socket left by a dead agent is replaced; a live one, or any other kind
// of file at path, is an error (never delete what is not ours).
func Listen(path string, perm os.FileMode) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another agent is listening there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	// The socket is created with the process umask; make it private from
	// its first moment, then widen to perm. Nothing else runs yet when
	// serve opens its listeners, so the process-wide umask is safe here.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, perm); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	return ln, nil
}

// Serve answers commands on ln until ctx is done. Each connection gets
// one command and one answer, within two seconds.
func Serve(ctx context.Context, ln net.Listener, h Handler, log zerolog.Logger) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(c, h, log)
		}()
	}
}

func handle(c net.Conn, h Handler, log zerolog.Logger) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxLine), maxLine).ReadString('\n')
	if err != nil { // no newline within maxLine bytes and the deadline
		_, _ = io.WriteString(c, "error: send one command line, ended by a newline\n")
		return
	}
	cmd := strings.TrimSpace(line)
	reply := h(cmd)
	log.Info().Str("command", safe(cmd)).Str("reply", reply).Msg("admin command")
	_, _ = io.WriteString(c, reply+"\n")
}

// safe makes a client's text fit for a log line.
func safe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// Send sends one command to the socket at path and returns the answer
// without its newline.
func Send(ctx context.Context, path, cmd string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}
