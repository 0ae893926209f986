// Package demo is the one-command trial (`irissim demo`): the reference
// layout's mirror sets AP1 and AP2 simulated on one loopback address, an
// agent beside each member (in this process, the same packages `serve`
// runs), a real haproxy in front when one is installed, and a live table of
// what each agent says and where haproxy sends clients. Keys or line
// commands trigger failovers.
package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/irismirror/iris-mirror-agent/testbed/simulator"
)

// Options configures a demo run.
type Options struct {
	IP       string        // loopback address everything listens on
	Ports    int           // first port of the block (see the port plan in mirror.go)
	Interval time.Duration // agents' probe interval
	Timeout  time.Duration // agents' probe deadline
	Duration time.Duration // stop after this long; 0 runs until Ctrl-C or q
	HAProxy  string        // haproxy binary; "" finds it, "none" runs without
	Refresh  time.Duration // screen refresh
}

// routeSample is one client request through a haproxy frontend.
type routeSample struct {
	set    string
	at     time.Time
	took   time.Duration
	member string
	err    error
}

// Run runs the demo until ctx is done, the duration ends or the user quits.
// in gives commands (keys when it is a terminal), out shows the table.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	if err := checkOptions(opts); err != nil {
		return err
	}
	events := &eventLog{}
	m, err := startMirror(opts.IP, opts.Ports, opts.Interval, opts.Timeout, events)
	if err != nil {
		return err
	}
	defer m.close()

	s := &screen{opts: opts, m: m, events: events, out: out, routes: map[string]routeSample{}, started: time.Now()}
	s.tty = isTerminalWriter(out)
	if opts.HAProxy != "none" {
		bin := opts.HAProxy
		if bin == "" {
			bin, err = findHAProxy()
		}
		if err == nil {
			s.lb, err = startHAProxy(bin, m)
		}
		if err != nil {
			s.lbNote = "no haproxy: " + err.Error() + "; showing the agents' views only"
		}
	} else {
		s.lbNote = "no haproxy (--haproxy none): showing the agents' views only"
	}
	if s.lb != nil {
		defer s.lb.stop()
	}

	cmds := make(chan string, 8)
	keys := false
	if f, ok := in.(*os.File); ok && isTerminal(int(f.Fd())) && s.tty {
		if restore, err := cbreak(int(f.Fd())); err == nil {
			defer restore()
			keys = true
		}
	}
	s.keys = keys
	go readCommands(in, keys, cmds)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Duration > 0 {
		var stopTimer context.CancelFunc
		runCtx, stopTimer = context.WithTimeout(runCtx, opts.Duration)
		defer stopTimer()
	}
	routes := make(chan routeSample, 16)
	if s.lb != nil {
		for i, set := range m.sets {
			go sampleRoutes(runCtx, set, net.JoinHostPort(opts.IP, strconv.Itoa(frontendPort(opts.Ports, i))), routes)
		}
	}

	if s.tty {
		fmt.Fprint(out, "\x1b[?25l\x1b[2J") // hide the cursor, clear once
		defer fmt.Fprint(out, "\x1b[?25h")
	}
	tick := time.NewTicker(opts.Refresh)
	defer tick.Stop()
	s.draw(false)
	for {
		select {
		case <-runCtx.Done():
			s.draw(true)
			if s.lb != nil {
				pid := s.lb.pid()
				s.lb.stop()
				fmt.Fprintf(out, "demo stopped: haproxy (pid %d) stopped, %d members and agents closed\n", pid, len(m.nodes))
			} else {
				fmt.Fprintf(out, "demo stopped: %d members and agents closed\n", len(m.nodes))
			}
			return nil
		case cmd := <-cmds:
			act, msg, err := m.apply(cmd)
			if errors.Is(err, errQuit) {
				cancel()
				continue
			}
			if err != nil {
				msg = err.Error()
			}
			if act != nil {
				s.last = act
			}
			s.msg = msg
			s.draw(false)
		case r := <-routes:
			s.observe(r)
		case <-tick.C:
			s.resolveByAgents()
			s.draw(false)
		}
	}
}

func checkOptions(o Options) error {
	ip := net.ParseIP(o.IP)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("invalid --ip %q: must be a loopback address (the simulated members' control endpoints change state)", o.IP)
	}
	if o.Ports < 1024 || o.Ports+10*len(referenceLayout)+9 > 65535 {
		return fmt.Errorf("invalid --ports %d: the block needs ports %d to %d, from 1024 to 65535", o.Ports, o.Ports, o.Ports+10*len(referenceLayout)+9)
	}
	if o.Interval < 10*time.Millisecond || o.Timeout <= 0 {
		return fmt.Errorf("invalid --interval %v or --timeout %v", o.Interval, o.Timeout)
	}
	if o.Refresh <= 0 {
		return fmt.Errorf("invalid refresh %v", o.Refresh)
	}
	return nil
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(int(f.Fd()))
}

// readCommands turns keys (one byte each) or lines into commands. At the
// end of input it stops reading: the demo runs on until stopped.
func readCommands(in io.Reader, keys bool, cmds chan<- string) {
	if keys {
		buf := make([]byte, 1)
		for {
			if _, err := in.Read(buf); err != nil {
				return
			}
			if c := buf[0]; c > ' ' && c < 127 {
				cmds <- string(c)
			}
		}
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			cmds <- line
		}
	}
}

// sampleRoutes asks a frontend who answers, every 100 ms, like a client
// would: send a line to the (simulated) SuperServer, read "<member> <state>".
func sampleRoutes(ctx context.Context, set, addr string, out chan<- routeSample) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		at := time.Now()
		name, _, err := simulator.Who(addr, 500*time.Millisecond)
		select {
		case out <- routeSample{set: set, at: at, took: time.Since(at), member: name, err: err}:
		case <-ctx.Done():
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
