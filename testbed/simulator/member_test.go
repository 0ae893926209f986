package simulator

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(url string) (int, string, error) {
	c := &http.Client{Timeout: 300 * time.Millisecond}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestMemberStates(t *testing.T) {
	web, ss := freeAddr(t), freeAddr(t)
	m := NewMember("ap1a", web, ss, Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, path := range []string{"/csp/mirror_status.cxw", "/csp/bin/mirror_status.cxw", "/ap1a/csp/mirror_status.cxw"} {
		if code, body, err := get("http://" + web + path); err != nil || code != 200 || body != "SUCCESS" {
			t.Errorf("primary %s: %d %q %v", path, code, body, err)
		}
	}
	if code, body, _ := get("http://" + web + "/ap1/csp/mirrorns/api/get"); code != 200 || !strings.Contains(body, `"HostName":"ap1a"`) {
		t.Errorf("app: %d %q", code, body)
	}
	for _, st := range []State{Backup, Async} {
		_ = m.SetState(st)
		if code, body, _ := get("http://" + web + "/csp/mirror_status.cxw"); code != 503 || body != "FAILED" {
			t.Errorf("%s: %d %q", st, code, body)
		}
	}
	// SuperServer answers every running state with the member's name.
	if line := ask(t, ss); line != "ap1a async" {
		t.Errorf("superserver: %q", line)
	}
	// Hang: both ports accept, nothing answers.
	_ = m.SetState(Hang)
	if _, _, err := get("http://" + web + "/csp/mirror_status.cxw"); err == nil {
		t.Error("hung member answered HTTP")
	}
	c, err := net.Dial("tcp", ss)
	if err != nil {
		t.Fatalf("hung SuperServer must accept: %v", err)
	}
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	_, _ = io.WriteString(c, "who\n")
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Error("hung SuperServer answered")
	}
	c.Close()
	// Down: refused.
	_ = m.SetState(Down)
	if _, err := net.Dial("tcp", web); err == nil {
		t.Error("down member accepted on web")
	}
	if _, err := net.Dial("tcp", ss); err == nil {
		t.Error("down member accepted on SuperServer")
	}
	// And back.
	if err := m.SetState(Primary); err != nil {
		t.Fatal(err)
	}
	if code, _, err := get("http://" + web + "/csp/mirror_status.cxw"); code != 200 || err != nil {
		t.Errorf("back up: %d %v", code, err)
	}
	if st := m.Stats(); st.MirrorStatusRequests == 0 || st.SuperServerConns == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestHangReleasedByStateChange(t *testing.T) {
	web := freeAddr(t)
	m := NewMember("x", web, "", Hang)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + web + "/csp/mirror_status.cxw")
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond)
	_ = m.SetState(Backup)
	select {
	case code := <-got:
		if code != 503 {
			t.Fatalf("released request: %d", code)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("hung request not released by the state change")
	}
}

func ask(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c, "who\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

func TestControlHandler(t *testing.T) {
	m := NewMember("ap1b", freeAddr(t), "", Backup)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv := httptest.NewServer(ControlHandler(m))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/state", strings.NewReader("primary\n"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("put: %v %v", resp, err)
	}
	resp.Body.Close()
	if m.State() != Primary {
		t.Fatalf("state %s", m.State())
	}
	resp, _ = http.Post(srv.URL+"/state?state=bogus", "text/plain", nil)
	if resp.StatusCode != 400 {
		t.Fatalf("bogus state: %d", resp.StatusCode)
	}
	resp.Body.Close()
	code, body, _ := get(srv.URL + "/stats")
	if code != 200 || !strings.Contains(body, `"member":"ap1b"`) {
		t.Fatalf("stats %d %s", code, body)
	}
}

func TestWho(t *testing.T) {
	ss := freeAddr(t)
	m := NewMember("ap2b", freeAddr(t), ss, Backup)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if name, st, err := Who(ss, time.Second); err != nil || name != "ap2b" || st != "backup" {
		t.Fatalf("Who: %q %q %v", name, st, err)
	}
	_ = m.SetState(Hang)
	start := time.Now()
	if _, _, err := Who(ss, 200*time.Millisecond); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("a hung SuperServer must fail within the timeout: %v after %v", err, time.Since(start))
	}
}

// TestDownUpAtOnce: a member can stop and start again immediately, however
// fast, and answers after.
func TestDownUpAtOnce(t *testing.T) {
	web, ss := freeAddr(t), freeAddr(t)
	m := NewMember("x", web, ss, Primary)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range 200 {
		if err := m.SetState(Down); err != nil {
			t.Fatalf("cycle %d down: %v", i, err)
		}
		if err := m.SetState(Primary); err != nil {
			t.Fatalf("cycle %d up: %v", i, err)
		}
	}
	if code, body, err := get("http://" + web + "/csp/mirror_status.cxw"); err != nil || code != 200 || body != "SUCCESS" {
		t.Fatalf("after the cycles: %d %q %v", code, body, err)
	}
}
