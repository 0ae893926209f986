package extcheck

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// MaxAnswer bounds what ReadAnswer reads: the agent's answers (status
// line, a few headers, one line of body) are a few hundred bytes.
const MaxAnswer = 8 << 10

// Answer is what the agent said.
type Answer struct {
	Code  int    // HTTP status code
	Check string // the check asked (the path's last segment), as the agent names it
	Line  string // the body's first line, made printable, for messages
	Pass  bool   // the agent's own positive answer for Check: 200 and its exact body
}

// ReadAnswer reads one HTTP/1.0 answer to the end of the connection and
// judges it. It passes only on the agent's own positive answer for check:
//
//   - a status line "HTTP/1.0 200 " or "HTTP/1.1 200 " (exactly three
//     digits: "HTTP/1.1 +200" or "HTTP/9 0200" are malformed);
//   - well-formed headers, no Transfer-Encoding, a Content-Length (if any)
//     that matches the body;
//   - the body the agent writes for a passing check: the check's name and
//     a newline ("primary\n"; for health, "healthy: <reason>\n");
//   - the end of the connection: a 200 whose body never ends is an error
//     when the reader's deadline passes, never a pass.
//
// A non-200 answer is a failure whatever follows its status line; its
// body's first line is kept for the message. The error is for answers
// that are not HTTP at all, cut short, or too long.
func ReadAnswer(r io.Reader, check string) (Answer, error) {
	a := Answer{Check: check}
	var buf [MaxAnswer]byte
	n, rerr := readAll(r, buf[:])
	data := buf[:n]

	status, rest, ok := cutLine(data)
	if !ok {
		if rerr == nil || rerr == io.EOF {
			return a, errors.New("no HTTP status line in the answer " + quoteHead(data))
		}
		return a, rerr
	}
	code, ok := parseStatusLine(status)
	if !ok {
		return a, errors.New("malformed HTTP status line " + quoteHead(status))
	}
	a.Code = code
	length, body, herr := readHeaders(rest)
	if herr == nil {
		a.Line = printable(firstLine(body))
	}
	if code != 200 {
		return a, nil
	}
	switch {
	case herr == errCutShort && rerr == nil:
		return a, errors.New("200 but the headers are longer than " + strconv.Itoa(MaxAnswer) + " bytes")
	case herr == errCutShort && rerr != io.EOF:
		return a, errors.New("200 but the headers did not end: " + rerr.Error())
	case herr != nil:
		return a, herr
	case rerr == nil:
		return a, errors.New("200 but the answer is longer than " + strconv.Itoa(MaxAnswer) + " bytes")
	case rerr != io.EOF:
		// The body may look complete, but only the end of the connection
		// says it is: an HTTP/1.0 answer is delimited by the close.
		return a, errors.New("200 but the answer did not end: " + rerr.Error())
	case length >= 0 && length != len(body):
		return a, errors.New("200 with Content-Length " + strconv.Itoa(length) + " but a body of " + strconv.Itoa(len(body)) + " bytes")
	}
	a.Pass = positive(check, body)
	return a, nil
}

// readAll reads until EOF, an error, or buf is full (nil error).
func readAll(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// cutLine splits off the first line, without its "\n" or "\r\n".
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:], true
}

// parseStatusLine reads "HTTP/1.x DDD reason": HTTP/1.0 or HTTP/1.1, one
// space, exactly three digits, one space.
func parseStatusLine(s []byte) (int, bool) {
	if len(s) < 13 || !(bytes.HasPrefix(s, []byte("HTTP/1.0 ")) || bytes.HasPrefix(s, []byte("HTTP/1.1 "))) || s[12] != ' ' {
		return 0, false
	}
	code := 0
	for _, c := range s[9:12] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, code >= 100
}

var errCutShort = errors.New("answer cut short in its headers")

// readHeaders checks the header lines and returns the Content-Length (-1
// without one) and the body after the blank line.
func readHeaders(b []byte) (length int, body []byte, err error) {
	length = -1
	for {
		line, rest, ok := cutLine(b)
		if !ok {
			return -1, nil, errCutShort
		}
		b = rest
		if len(line) == 0 {
			return length, b, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			return -1, nil, errors.New("malformed header line " + quoteHead(line))
		}
		value = bytes.Trim(value, " \t")
		switch strings.ToLower(string(name)) {
		case "transfer-encoding":
			return -1, nil, errors.New("unexpected Transfer-Encoding in an HTTP/1.0 answer")
		case "content-length":
			n, err := strconv.Atoi(string(value))
			if err != nil || !isDigits(value) || (length >= 0 && n != length) {
				return -1, nil, errors.New("bad Content-Length " + quoteHead(value))
			}
			length = n
		}
	}
}

// isDigits: Atoi also takes a sign, which a Content-Length must not have.
func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// isToken: a header name is one or more RFC 9110 tchars.
func isToken(b []byte) bool {
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return len(b) > 0
}

// positive reports whether body is the agent's answer for a passing
// check (httpapi writes c.String()+"\n", and "healthy: <reason>\n" for
// health).
func positive(check string, body []byte) bool {
	line, ok := bytes.CutSuffix(body, []byte("\n"))
	if !ok || bytes.ContainsAny(line, "\r\n") {
		return false
	}
	if check == "health" {
		return bytes.HasPrefix(line, []byte("healthy: "))
	}
	return string(line) == check
}

// CheckOf names the check a request path asks: its last segment, without
// a query ("/" is the agent's alias of /primary).
func CheckOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	name := path[strings.LastIndexByte(path, '/')+1:]
	if name == "" {
		return "primary"
	}
	return name
}

func firstLine(b []byte) []byte {
	if line, _, ok := cutLine(b); ok {
		return line
	}
	return b
}

// printable makes remote text safe for one line of a log: at most 200
// bytes, control characters and invalid UTF-8 replaced.
func printable(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	out := []byte(string(b))
	for i, c := range out {
		if c < 0x20 || c == 0x7f {
			out[i] = '?'
		}
	}
	return strings.ToValidUTF8(string(bytes.TrimSpace(out)), "?")
}

// quoteHead quotes the start of an unexpected answer for an error.
func quoteHead(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strconv.Quote(string(b))
}
