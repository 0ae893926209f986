package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/httpapi"
	"github.com/irismirror/iris-mirror-agent/logging"
)

// statusRow is one agent's answer, or why there is none.
type statusRow struct {
	URL    string          `json:"url"`
	Error  string          `json:"error,omitempty"`
	Status *httpapi.Status `json:"status,omitempty"`
}

// statusReport is what `status --json` prints.
type statusReport struct {
	Members            []statusRow `json:"members"`
	RoutablePrimaries  []string    `json:"routable_primaries"`
	ExactlyOnePrimary  bool        `json:"exactly_one_primary"`
	CheckedAt          time.Time   `json:"checked_at"`
	unreachableMembers int
}

func runStatus(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, urls, err := loadStatus(args, environ, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "iris-mirror-agent status: %v\n", err)
		return ExitUsage
	}
	for i, raw := range urls {
		u, err := statusURL(raw)
		if err != nil {
			fmt.Fprintf(stderr, "iris-mirror-agent status: URL %q: %v\n", displayURL(raw), err)
			return ExitUsage
		}
		urls[i] = u
	}
	tty := logging.IsTerminal(stdout)
	for {
		rep := collectStatus(ctx, urls, cfg.Timeout)
		switch {
		case cfg.JSON:
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		default:
			if cfg.Watch && tty {
				io.WriteString(stdout, "\x1b[H\x1b[2J") // refresh in place
			}
			writeStatusTable(stdout, rep, time.Now())
		}
		code := ExitFail
		if rep.ExactlyOnePrimary {
			code = ExitOK
		}
		if !cfg.Watch {
			return code
		}
		select {
		case <-ctx.Done():
			return code
		case <-time.After(cfg.Interval):
		}
	}
}

// statusURL turns an agent's base URL (or its /status URL) into the
// /status URL.
func statusURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want an agent URL such as http://ap1a:9797")
	}
	if !strings.HasSuffix(u.Path, "/status") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/status"
	}
	return u.String(), nil
}

// collectStatus asks every agent at once; an unreachable one is a row
// with its error.
func collectStatus(ctx context.Context, urls []string, timeout time.Duration) statusReport {
	rep := statusReport{Members: make([]statusRow, len(urls)), RoutablePrimaries: []string{}, CheckedAt: time.Now().UTC()}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{KeepAlive: -1}).DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Members[i] = fetchStatus(ctx, client, u, timeout)
		}()
	}
	wg.Wait()
	for _, r := range rep.Members {
		if r.Status == nil {
			rep.unreachableMembers++
			continue
		}
		if r.Status.Routable {
			rep.RoutablePrimaries = append(rep.RoutablePrimaries, r.Status.Member)
		}
	}
	rep.ExactlyOnePrimary = len(rep.RoutablePrimaries) == 1
	return rep
}

func fetchStatus(ctx context.Context, client *http.Client, u string, timeout time.Duration) statusRow {
	row := statusRow{URL: displayURL(u)}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	req.Header.Set("User-Agent", "iris-mirror-agent-status")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		row.Error = err.Error()
		return row
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		row.Error = fmt.Sprintf("%s answered %s (is it an iris-mirror-agent?)", row.URL, resp.Status)
		return row
	}
	var st httpapi.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		row.Error = "unreadable /status: " + err.Error()
		return row
	}
	row.Status = &st
	return row
}

// writeStatusTable prints the report like `patronictl list`.
func writeStatusTable(w io.Writer, rep statusReport, now time.Time) {
	head := []string{"Member", "Role", "Routable", "Since", "Reason", "Probes", "Version"}
	rows := [][]string{}
	for _, r := range rep.Members {
		if r.Status == nil {
			host := r.URL
			if u, err := url.Parse(r.URL); err == nil {
				host = u.Host
			}
			rows = append(rows, []string{host, "?", "-", "", cut(r.Error, 60), "", ""})
			continue
		}
		s := r.Status
		role := s.Role
		if s.Mirror != "" && s.Mirror != s.Role {
			role += " (" + s.Mirror + ")"
		}
		routable := "no"
		if s.Routable {
			routable = "yes"
		}
		if s.Maintenance {
			routable = "no (maint)"
		}
		var probes []string
		for _, p := range s.Probes {
			if p.Healthy {
				probes = append(probes, fmt.Sprintf("%s %s", p.Name, fmtMS(p.LatencyMS)))
			} else {
				probes = append(probes, p.Name+" FAIL")
			}
		}
		rows = append(rows, []string{s.Member, role, routable, since(now, s.Since), cut(s.Reason, 60), strings.Join(probes, ", "), s.Version})
	}
	width := make([]int, len(head))
	for i, h := range head {
		width[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	line := func() {
		for _, n := range width {
			fmt.Fprintf(w, "+%s", strings.Repeat("-", n+2))
		}
		fmt.Fprintln(w, "+")
	}
	cells := func(r []string) {
		for i, c := range r {
			fmt.Fprintf(w, "| %-*s ", width[i], c)
		}
		fmt.Fprintln(w, "|")
	}
	line()
	cells(head)
	line()
	for _, r := range rows {
		cells(r)
	}
	line()
	switch n := len(rep.RoutablePrimaries); n {
	case 1:
		fmt.Fprintf(w, "1 routable primary: %s", rep.RoutablePrimaries[0])
	case 0:
		fmt.Fprint(w, "NO routable primary")
	default:
		fmt.Fprintf(w, "%d routable primaries (want 1): %s", n, strings.Join(rep.RoutablePrimaries, ", "))
	}
	if rep.unreachableMembers > 0 {
		fmt.Fprintf(w, "; %d agent(s) unreachable", rep.unreachableMembers)
	}
	fmt.Fprintf(w, " (at %s)\n", now.Format("15:04:05"))
}

func since(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func fmtMS(ms float64) string {
	if ms < 10 {
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// statusSettings are the settings of `iris-mirror-agent status`.
type statusSettings struct {
	Timeout  time.Duration `env:"STATUS_TIMEOUT" envDefault:"2s" flag:"timeout" help:"give up on an agent after this long"`
	Watch    bool          `env:"STATUS_WATCH" envDefault:"false" flag:"watch" help:"refresh the table in place until interrupted"`
	Interval time.Duration `env:"STATUS_INTERVAL" envDefault:"2s" flag:"interval" help:"time between refreshes with --watch"`
	JSON     bool          `env:"STATUS_JSON" envDefault:"false" flag:"json" help:"print JSON instead of a table"`
}

// loadStatus reads status's settings and returns the agent URLs.
func loadStatus(args, environ []string, help io.Writer) (*statusSettings, []string, error) {
	cfg := &statusSettings{}
	rest, err := config.Load(cfg, "iris-mirror-agent status", statusSynopsis, args, environ, help)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Timeout <= 0 || cfg.Timeout > time.Minute {
		return nil, nil, &config.Error{Flag: "timeout", Env: config.Prefix + "STATUS_TIMEOUT", Value: cfg.Timeout.String(), Err: errTimeout}
	}
	if cfg.Interval < 100*time.Millisecond || cfg.Interval > time.Hour {
		return nil, nil, &config.Error{Flag: "interval", Env: config.Prefix + "STATUS_INTERVAL", Value: cfg.Interval.String(), Err: errWatchInterval}
	}
	if len(rest) == 0 {
		return nil, nil, errNoURLs
	}
	return cfg, rest, nil
}

// statusSynopsis is the help paragraph of status.
const statusSynopsis = `iris-mirror-agent status [settings] URL...

Ask several agents (each URL an agent's base URL, such as http://ap1a:9797,
or its /status URL) and print one row per member, like patronictl list.
Exit 0 when exactly one member is a routable primary, 1 otherwise.`

var (
	errWatchInterval = errors.New("must be between 100ms and 1h")
	errNoURLs        = errors.New("no agent URL given (iris-mirror-agent status http://ap1a:9797 http://ap1b:9797)")
)
