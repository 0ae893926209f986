package logging

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatedSink blocks every write until opened, like a full pipe.
type gatedSink struct {
	open chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (s *gatedSink) Write(p []byte) (int, error) {
	<-s.open
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *gatedSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestWriteNeverBlocksAndCountsDrops(t *testing.T) {
	sink := &gatedSink{open: make(chan struct{})}
	w := NewWriter(sink, 4, func(n uint64) []byte { return []byte("lost " + itoa(n) + "\n") })
	start := time.Now()
	for i := range 100 {
		if _, err := w.Write([]byte("line " + itoa(uint64(i)) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	// 100 writes to a sink that takes nothing: the queue holds 4, the
	// drain goroutine holds 1 in its blocked write, the rest are dropped.
	if w.Dropped() < 90 {
		t.Fatalf("dropped %d of 100 with a queue of 4", w.Dropped())
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("writes to a blocked sink took %v", d)
	}
	close(sink.open)
	w.Close(5 * time.Second)
	out := sink.String()
	if !strings.HasPrefix(out, "line 0\n") {
		t.Errorf("the first line should get through: %q", out)
	}
	if !strings.Contains(out, "lost "+itoa(w.Dropped())+"\n") {
		t.Errorf("no notice of %d lost lines in %q", w.Dropped(), out)
	}
}

func TestCloseGivesUpOnAStuckSink(t *testing.T) {
	sink := &gatedSink{open: make(chan struct{})}
	defer close(sink.open)
	w := NewWriter(sink, 4, nil)
	_, _ = w.Write([]byte("x\n"))
	start := time.Now()
	w.Close(50 * time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close waited %v on a stuck sink", d)
	}
}

func TestWriteCopiesItsInput(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, 8, nil)
	p := []byte("first\n")
	_, _ = w.Write(p)
	copy(p, "XXXXX\n") // zerolog reuses its buffers
	w.Close(5 * time.Second)
	if buf.String() != "first\n" {
		t.Fatalf("got %q", buf.String())
	}
}

func TestNewFormats(t *testing.T) {
	var buf bytes.Buffer
	log, w := New(&buf, "warn", "json")
	log.Info().Msg("hidden")
	log.Warn().Str("member", "ap1a").Msg("shown")
	w.Close(5 * time.Second)
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"member":"ap1a"`) {
		t.Fatalf("json at warn: %q", out)
	}
	buf.Reset()
	log, w = New(&buf, "info", "console")
	log.Info().Msg("hello")
	w.Close(5 * time.Second)
	if out := buf.String(); !strings.Contains(out, "INF") || !strings.Contains(out, "hello") {
		t.Fatalf("console: %q", out)
	}
	// auto is json when the sink is not a terminal.
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	log, w = New(f, "info", "auto")
	log.Info().Msg("x")
	w.Close(5 * time.Second)
	b, _ := os.ReadFile(f.Name())
	if !strings.HasPrefix(string(b), "{") {
		t.Fatalf("auto on a file: %q", b)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
