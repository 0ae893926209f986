// Package haproxy speaks haproxy's agent-check protocol: a one-line reply
// on a TCP port. The external-check side (haproxy forks a binary) is
// package extcheck, kept apart so the binary it forks stays small.
package haproxy

import (
	"github.com/irismirror/iris-mirror-agent/checker"
)

// ReplyUp is the agent-check line for a passing check. "ready" and "100%"
// undo an earlier maint, drain or weight change, so the server comes back
// in full.
const ReplyUp = "up ready 100%\n"

// ReplyMaintenance is the line for a member an operator took out: haproxy
// puts the server in MAINT at once (not DOWN: monitoring tells a planned
// stop from a failure), and only a later "ready" brings it back. Every
// other line carries "ready", so the agent owns the server's admin state:
// maintenance ends at the next answer whatever the member's role then.
const ReplyMaintenance = "maint #maintenance\n"

// maxReason bounds the description after '#'.
const maxReason = 120

// Reply renders a verdict as one agent-check line ending in "\n".
func Reply(v checker.Verdict) []byte {
	switch {
	case v.OK:
		return []byte(ReplyUp)
	case v.Maintenance:
		return []byte(ReplyMaintenance)
	}
	return Down(v.Reason)
}

// downPrefix marks the server down and clears an earlier maint or drain
// (seen on haproxy 2.6: after "maint", a plain "down" left the server in
// MAINT until the member became primary again).
const downPrefix = "down ready #"

// Down renders "down ready #<reason>\n". haproxy needs the space before
// '#'; the reason is cut to printable ASCII on one line.
func Down(reason string) []byte {
	out := make([]byte, 0, len(downPrefix)+1+min(len(reason), maxReason))
	out = append(out, downPrefix...)
	out = appendSafe(out, reason, maxReason)
	return append(out, '\n')
}

// appendSafe appends at most n bytes of s, replacing anything that is not
// printable ASCII (line breaks included) with '?'.
func appendSafe(dst []byte, s string, n int) []byte {
	for i := 0; i < len(s) && i < n; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		dst = append(dst, c)
	}
	return dst
}

// ParseSend reads the agent-send line haproxy sent (possibly nothing) and
// returns the check it names. An empty line means CheckPrimary. ok is false
// for a word that names no check; word then holds it, made safe to echo.
func ParseSend(b []byte) (c checker.Question, word string, ok bool) {
	// Only the first line counts, and within it the first word.
	for i, ch := range b {
		if ch == '\n' {
			b = b[:i]
			break
		}
	}
	start := 0
	for start < len(b) && isSep(b[start]) {
		start++
	}
	end := start
	for end < len(b) && !isSep(b[end]) {
		end++
	}
	w := b[start:end]
	if len(w) == 0 {
		return checker.AskPrimary, "", true
	}
	var lower [16]byte
	if len(w) <= len(lower) {
		for i, ch := range w {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			lower[i] = ch
		}
		if c, ok := checker.ParseQuestion(string(lower[:len(w)])); ok {
			return c, "", true
		}
	}
	return 0, string(appendSafe(nil, string(w), 32)), false
}

func isSep(c byte) bool { return c == ' ' || c == '\t' || c == ',' || c == '\r' }
