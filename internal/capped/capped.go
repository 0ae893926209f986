// Package capped holds a writer that keeps only the first bytes written,
// for the output of commands the agent runs (iris qlist, hooks): a command
// that prints without end must not grow the agent's memory.
package capped

import "bytes"

// Buffer keeps the first Max bytes written and notes that more came. Writes
// never fail, so a command writing into it is never stopped by EPIPE.
type Buffer struct {
	Max  int
	Over bool // more than Max bytes were written
	buf  bytes.Buffer
}

// Write keeps what fits and drops the rest.
func (c *Buffer) Write(p []byte) (int, error) {
	n, room := len(p), c.Max-c.buf.Len()
	if n > room {
		c.Over = true
		p = p[:max(room, 0)]
	}
	c.buf.Write(p)
	return n, nil
}

// Bytes returns what was kept.
func (c *Buffer) Bytes() []byte { return c.buf.Bytes() }
