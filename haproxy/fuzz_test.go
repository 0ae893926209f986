package haproxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/checker"
	"github.com/irismirror/iris-mirror-agent/probe"
)

func FuzzParseSend(f *testing.F) {
	for _, s := range []string{"", "primary\n", "STANDBY\r\n", " health , x\n", "live", "bogus\n", "\x00\xff\x1b[2J\n", "#\n", strings.Repeat("A", 300)} {
		f.Add([]byte(s))
	}
	srv := &AgentServer{Snapshot: func() *checker.Snapshot { return snapshot(probe.Primary, "mirror_status 200 SUCCESS") }}
	f.Fuzz(func(t *testing.T, sent []byte) {
		c, word, ok := ParseSend(sent)
		if ok && c.String() == "invalid" {
			t.Fatalf("%q: ok with an invalid check %d", sent, c)
		}
		if !ok {
			if len(word) > 32 {
				t.Fatalf("%q: echoed word %d bytes long", sent, len(word))
			}
			for _, b := range []byte(word) {
				if b < 0x21 || b > 0x7e || b == ',' {
					t.Fatalf("%q: echoed word %q holds %q", sent, word, b)
				}
			}
		}
		// Whatever arrives, the reply is exactly one agent-check line.
		reply := srv.Answer(sent)
		if bytes.Count(reply, []byte("\n")) != 1 || reply[len(reply)-1] != '\n' || bytes.ContainsAny(reply, "\r\x00") {
			t.Fatalf("%q: reply %q is not one line", sent, reply)
		}
		if !bytes.HasPrefix(reply, []byte(ReplyUp)) && !bytes.HasPrefix(reply, []byte(downPrefix)) && string(reply) != ReplyMaintenance {
			t.Fatalf("%q: reply %q", sent, reply)
		}
	})
}
