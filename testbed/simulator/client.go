package simulator

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Who asks a simulated SuperServer (or a balancer in front of some) which
// member answers: it sends one line and reads "<member> <state>". The whole
// exchange is bounded by timeout.
func Who(addr string, timeout time.Duration) (member string, state string, err error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "who\n"); err != nil {
		return "", "", err
	}
	line, err := bufio.NewReader(io.LimitReader(c, 256)).ReadString('\n')
	if err != nil {
		return "", "", fmt.Errorf("no answer: %w", err)
	}
	member, state, _ = strings.Cut(strings.TrimSpace(line), " ")
	return member, state, nil
}
