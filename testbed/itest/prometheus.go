package itest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Prometheus is a real Prometheus server (Debian's package) run by a test,
// its storage in a temporary directory, listening on 127.0.0.1.
type Prometheus struct {
	Proc *Proc
	URL  string // http://127.0.0.1:PORT
	Dir  string // where its configuration and rule files are
}

// StartPrometheus writes files into a temporary directory (it must hold
// prometheus.yml; rule files beside it are named relative to it), runs
// prometheus on a free port of 127.0.0.1 and waits until it is ready.
func StartPrometheus(t testing.TB, files map[string]string) *Prometheus {
	t.Helper()
	bin := RequireTool(t, "prometheus")
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The free port is found by binding and closing it: another process
	// may take it in between, so a failed bind is retried on a new port.
	for attempt := 1; ; attempt++ {
		addr := freeLoopbackPort(t)
		p := Start(t, fmt.Sprintf("prometheus-%d", attempt), nil, bin,
			"--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr,
			"--log.level=info")
		pr := &Prometheus{Proc: p, URL: "http://" + addr, Dir: dir}
		deadline := time.Now().Add(time.Minute)
		for !p.Exited() && time.Now().Before(deadline) {
			if code, _, err := HTTPGet(pr.URL+"/-/ready", time.Second); err == nil && code == http.StatusOK {
				return pr
			}
			time.Sleep(50 * time.Millisecond)
		}
		log := Tail(p.Log, 30)
		if !p.Exited() || !strings.Contains(log, "address already in use") || attempt == 3 {
			t.Fatalf("prometheus did not become ready on %s:\n%s", addr, log)
		}
	}
}

func freeLoopbackPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// api GETs /api/v1/<path> and decodes the "data" of a successful answer.
func (p *Prometheus) api(path string, data any) error {
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}).Get(p.URL + "/api/v1/" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("prometheus %s: %w", path, err)
	}
	var doc struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("prometheus %s: %w: %.200q", path, err, body)
	}
	if doc.Status != "success" {
		return fmt.Errorf("prometheus %s: %s %s", path, doc.Status, doc.Error)
	}
	return json.Unmarshal(doc.Data, data)
}

// PromAlert is one active alert, as /api/v1/alerts lists it.
type PromAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // pending or firing
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// Alerts returns the active (pending and firing) alerts.
func (p *Prometheus) Alerts() ([]PromAlert, error) {
	var data struct {
		Alerts []PromAlert `json:"alerts"`
	}
	err := p.api("alerts", &data)
	return data.Alerts, err
}

// PromSample is one sample of an instant vector.
type PromSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

// Query evaluates expr now.
func (p *Prometheus) Query(expr string) ([]PromSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []PromSample `json:"result"`
	}
	if err := p.api("query?query="+url.QueryEscape(expr), &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: a %s, not a vector", expr, data.ResultType)
	}
	return data.Result, nil
}

// PromTarget is a scrape target, as /api/v1/targets lists it.
type PromTarget struct {
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Labels           map[string]string `json:"labels"`
	ScrapeURL        string            `json:"scrapeUrl"`
	Health           string            `json:"health"` // up, down, unknown
	LastError        string            `json:"lastError"`
}

// Targets returns the active targets and those relabelling dropped.
func (p *Prometheus) Targets() (active, dropped []PromTarget, err error) {
	var data struct {
		Active  []PromTarget `json:"activeTargets"`
		Dropped []PromTarget `json:"droppedTargets"`
	}
	err = p.api("targets", &data)
	return data.Active, data.Dropped, err
}
