//go:build !(linux && (amd64 || arm64))

package haproxy

import "net"

// fdListener has no fast path here: every check takes the portable
// net.Conn loop.
type fdListener struct{}

func listenerFD(net.Listener) *fdListener { return nil }

func (fl *fdListener) Close() {}

func (s *AgentServer) fdAcceptLoop(*fdListener) error { return nil }
