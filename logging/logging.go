// Package logging builds the agent's logger on a writer that never blocks.
//
// A log line must never hold up an answer: a stderr pipe that nobody reads
// (a stuck journald, a blocking Docker log driver, `| less`) fills up, and
// then every write to it blocks. So lines go into a bounded queue that one
// goroutine drains into the real sink; when the queue is full a line is
// dropped and counted, and once the sink takes lines again the writer says
// how many were lost.
package logging

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// QueueLines is how many lines wait for a slow sink before new ones are
// dropped: a few seconds of the agent's busiest logging.
const QueueLines = 1024

// Writer is a non-blocking io.Writer for whole log lines.
type Writer struct {
	sink   io.Writer
	notice func(lost uint64) []byte // the line that reports lost lines

	queue   chan []byte
	dropped atomic.Uint64 // lines lost since start
	unsaid  atomic.Uint64 // lines lost and not yet reported
	closing chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewWriter starts a writer draining into sink; notice renders the line
// that reports n lost lines.
func NewWriter(sink io.Writer, queue int, notice func(n uint64) []byte) *Writer {
	w := &Writer{
		sink:    sink,
		notice:  notice,
		queue:   make(chan []byte, max(queue, 1)),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go w.drain()
	return w
}

// Write queues a copy of p and returns at once; a full queue drops it.
func (w *Writer) Write(p []byte) (int, error) {
	line := append([]byte(nil), p...)
	select {
	case w.queue <- line:
	default:
		w.dropped.Add(1)
		w.unsaid.Add(1)
	}
	return len(p), nil
}

// Dropped is the number of lines lost since start.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Close writes what is queued for at most timeout, then gives up on the
// sink, so a stuck sink cannot hold the process at exit.
func (w *Writer) Close(timeout time.Duration) {
	w.once.Do(func() { close(w.closing) })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	}
}

func (w *Writer) drain() {
	defer close(w.done)
	for {
		select {
		case line := <-w.queue:
			w.write(line)
		case <-w.closing:
			for {
				select {
				case line := <-w.queue:
					w.write(line)
				default:
					return
				}
			}
		}
	}
}

func (w *Writer) write(line []byte) {
	if _, err := w.sink.Write(line); err != nil {
		return // the sink is broken (EPIPE, /dev/full): nothing else to try
	}
	if n := w.unsaid.Swap(0); n > 0 && w.notice != nil {
		_, _ = w.sink.Write(w.notice(n))
	}
}

// New builds the agent's logger for a level (debug, info, warn, error)
// and a format (json, console, or auto: console when sink is a terminal),
// writing through a non-blocking Writer, which it returns for its count
// and for Close at exit.
func New(sink io.Writer, level, format string) (zerolog.Logger, *Writer) {
	if format == "auto" {
		format = "json"
		if isTerminal(sink) {
			format = "console"
		}
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	// The notice is rendered like every other line, straight into a buffer.
	notice := func(n uint64) []byte {
		var b lineBuffer
		var out io.Writer = &b
		if format == "console" {
			out = zerolog.ConsoleWriter{Out: &b, TimeFormat: consoleTime, NoColor: true}
		}
		l := zerolog.New(out).With().Timestamp().Logger()
		l.Warn().Uint64("lines", n).Msg("log lines dropped: the log output was not being read")
		return b
	}
	w := NewWriter(sink, QueueLines, notice)
	var out io.Writer = w
	if format == "console" {
		// Formatted before the queue: the console writer buffers a whole
		// line and writes it once.
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: consoleTime}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), w
}

const consoleTime = "15:04:05.000"

type lineBuffer []byte

func (b *lineBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
