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

// Command is one line of the protocol.
type Command string

// The commands, as sent on the socket.
const (
	Poke              Command = "poke"
	MaintenanceOn     Command = "maintenance on"
	MaintenanceOff    Command = "maintenance off"
	MaintenanceStatus Command = "maintenance status"
	Status            Command = "status"
)

// ParseCommand reads a command line: words are case-insensitive and may
// be separated by any spaces.
func ParseCommand(line string) (Command, bool) {
	c := Command(strings.Join(strings.Fields(strings.ToLower(line)), " "))
	switch c {
	case Poke, MaintenanceOn, MaintenanceOff, MaintenanceStatus, Status:
		return c, true
	}
	return "", false
}

// Controls is what the socket can do to the agent. Its methods never block.
type Controls interface {
	// Poke starts a probe round now (rate-limited by the agent).
	Poke()
	// SetSocketMaintenance turns the socket's own maintenance on or off;
	// other sources (the drain file) keep theirs.
	SetSocketMaintenance(on bool)
	// State is what the agent answers now.
	State() State
}

// State is the agent's view as the socket reports it.
type State struct {
	Role, Mirror      string
	Routable          bool
	Maintenance       bool
	MaintenanceSource string
	Reason            string
}

// Answer runs one command line against c and returns the reply line.
func Answer(c Controls, line string) string {
	cmd, ok := ParseCommand(line)
	if !ok {
		return "error: unknown command (poke, maintenance on, maintenance off, status)"
	}
	switch cmd {
	case Poke:
		c.Poke()
		return "ok: probe round started"
	case MaintenanceOn:
		c.SetSocketMaintenance(true)
		return "ok: maintenance on"
	case MaintenanceOff:
		c.SetSocketMaintenance(false)
		if st := c.State(); st.Maintenance {
			return "ok: maintenance off on the socket, but still in maintenance: " + st.MaintenanceSource
		}
		return "ok: maintenance off"
	}
	st := c.State()
	mirror := st.Mirror
	if mirror == "" {
		mirror = "-"
	}
	return fmt.Sprintf("ok: role %s mirror %s routable %t maintenance %t: %s", st.Role, mirror, st.Routable, st.Maintenance, st.Reason)
}

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
func Serve(ctx context.Context, ln net.Listener, c Controls, log zerolog.Logger) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(conn, c, log)
		}()
	}
}

func handle(conn net.Conn, c Controls, log zerolog.Logger) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReaderSize(io.LimitReader(conn, maxLine), maxLine).ReadString('\n')
	if err != nil { // no newline within maxLine bytes and the deadline
		_, _ = io.WriteString(conn, "error: send one command line, ended by a newline\n")
		return
	}
	cmd := strings.TrimSpace(line)
	reply := Answer(c, cmd)
	log.Info().Str("command", safe(cmd)).Str("reply", reply).Msg("admin command")
	_, _ = io.WriteString(conn, reply+"\n")
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
// without its newline. A reply that does not start with "ok" is the
// agent's refusal, returned as the reply (err nil).
func Send(ctx context.Context, path string, cmd Command) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, string(cmd)+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}
