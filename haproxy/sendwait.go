package haproxy

import (
	"net"
	"time"
)

// SendWait is how long a connection that has sent nothing yet may take to
// send its agent-send line. haproxy sends it right after connecting, but
// the agent can accept before it arrives: answering at once would answer
// the default check instead of the one asked, and closing with the line
// still to come makes the kernel reset the connection, which can destroy
// the reply before haproxy reads it (measured: 5% of checks from a client
// that writes after connecting). A check sent without agent-send is
// answered after this wait.
const SendWait = 50 * time.Millisecond

// maxWaiting bounds the connections waiting at once, so clients that send
// nothing cannot pile up goroutines; past it they are answered at once.
const maxWaiting = 1024

// waitForSend hands a silent connection to a goroutine that waits up to
// SendWait for its line, then answers. It returns false (the caller
// answers at once) when every waiting slot is taken.
func (s *AgentServer) waitForSend(conn net.Conn) bool {
	s.once.Do(func() { s.waiting = make(chan struct{}, maxWaiting) })
	select {
	case s.waiting <- struct{}{}:
	default:
		return false
	}
	s.waiters.Add(1)
	go func() {
		defer s.waiters.Done()
		defer func() { <-s.waiting }()
		buf := make([]byte, 256)
		_ = conn.SetReadDeadline(time.Now().Add(SendWait))
		n, _ := conn.Read(buf)
		s.reply(conn, buf[:n])
	}()
	return true
}
