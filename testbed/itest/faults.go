package itest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is how a FaultServer answers mirror_status.cxw.
type Fault string

// The faults a FaultServer injects. Healthy answers like a primary.
const (
	Healthy          Fault = "200 SUCCESS"
	HangAfterAccept  Fault = "hang after accept"
	HangMidHeaders   Fault = "hang mid-headers"
	HangMidBody      Fault = "hang mid-body"
	ResetMidResponse Fault = "reset mid-response"
	SlowBody         Fault = "1 byte/s body"
	HugeBody         Fault = "10 MB body"
	WrongBody        Fault = "wrong body on 200"
	Redirect         Fault = "302 redirect"
	BadCertificate   Fault = "TLS handshake failure"
	FlapBackup       Fault = "flapping: SUCCESS, 503 alternately"
	FlapError        Fault = "flapping: SUCCESS, 500 alternately"
)

// hugeBody is 10 MB starting with SUCCESS, made once.
var hugeBody = []byte("SUCCESS" + strings.Repeat(" ", 10<<20-7))

// FaultServer is a loopback stand-in for IRIS's web server that answers
// mirror_status.cxw healthily or with one injected fault. It speaks
// HTTP/1.1 by hand, so a fault can strike anywhere in a response.
type FaultServer struct {
	Addr     string
	ln       net.Listener
	fault    atomic.Value // Fault
	good     *tls.Config  // nil: plain HTTP
	bad      *tls.Config  // certificate the client does not trust
	requests atomic.Uint64

	mu     sync.Mutex
	held   map[net.Conn]struct{}
	closed bool
}

// StartFaultServer listens on addr (host:port) and answers Healthy. With a
// CA, it speaks HTTPS with a certificate for host from that CA, and
// BadCertificate switches to one from another CA.
func StartFaultServer(t testing.TB, addr string, ca *CA) *FaultServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &FaultServer{Addr: ln.Addr().String(), ln: ln, held: map[net.Conn]struct{}{}}
	s.fault.Store(Healthy)
	if ca != nil {
		host, _, _ := net.SplitHostPort(s.Addr)
		s.good = serverTLS(t, ca, host)
		s.bad = serverTLS(t, NewCA(t, "untrusted"), host)
	}
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

func serverTLS(t testing.TB, ca *CA, host string) *tls.Config {
	cf, kf := ca.Issue(t, "iris-"+host, host)
	cert, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// URL is the mirror_status.cxw URL of the server.
func (s *FaultServer) URL() string {
	scheme := "http"
	if s.good != nil {
		scheme = "https"
	}
	return scheme + "://" + s.Addr + "/csp/mirror_status.cxw"
}

// Set switches to fault f; connections held by the previous fault are cut.
func (s *FaultServer) Set(f Fault) {
	s.fault.Store(f)
	s.mu.Lock()
	for c := range s.held {
		c.Close()
	}
	clear(s.held)
	s.mu.Unlock()
}

// Requests is the number of requests read so far.
func (s *FaultServer) Requests() uint64 { return s.requests.Load() }

// Close stops the server and cuts every connection.
func (s *FaultServer) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
	s.Set(Healthy)
}

func (s *FaultServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.held[c] = struct{}{}
		s.mu.Unlock()
		go s.handle(c)
	}
}

// hold blocks until the fault changes or the server closes (either closes c).
func (s *FaultServer) hold(c net.Conn) {
	for { // Read returns when c is closed; clients send nothing more

		if _, err := c.Read(make([]byte, 512)); err != nil {
			return
		}
	}
}

func (s *FaultServer) handle(raw net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.held, raw)
		s.mu.Unlock()
		raw.Close()
	}()
	f := s.fault.Load().(Fault)
	if f == HangAfterAccept {
		s.hold(raw)
		return
	}
	c := raw
	if s.good != nil {
		conf := s.good
		if f == BadCertificate {
			conf = s.bad
		}
		tc := tls.Server(raw, conf)
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		c = tc
	}
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	n := s.requests.Add(1)
	_ = req.Body.Close()
	head := func(status string, length int) string {
		return fmt.Sprintf("HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, length)
	}
	switch f {
	case HangMidHeaders:
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-"))
		s.hold(raw)
	case HangMidBody:
		_, _ = c.Write([]byte(head("200 OK", 7) + "SUC"))
		s.hold(raw)
	case ResetMidResponse:
		_, _ = c.Write([]byte(head("200 OK", 7) + "SUC"))
		if tc, ok := raw.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
	case SlowBody:
		_, _ = c.Write([]byte(head("200 OK", 7)))
		for _, b := range []byte("SUCCESS") {
			if _, err := c.Write([]byte{b}); err != nil || s.fault.Load().(Fault) != SlowBody {
				return
			}
			time.Sleep(time.Second)
		}
	case HugeBody:
		_, _ = c.Write([]byte(head("200 OK", len(hugeBody))))
		_, _ = c.Write(hugeBody)
	case WrongBody:
		_, _ = c.Write([]byte(head("200 OK", 6) + "FAILED"))
	case Redirect:
		_, _ = c.Write([]byte("HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/csp/mirror_status.cxw\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	case FlapBackup, FlapError:
		switch {
		case n%2 == 1:
			_, _ = c.Write([]byte(head("200 OK", 7) + "SUCCESS"))
		case f == FlapBackup:
			_, _ = c.Write([]byte(head("503 Service Unavailable", 6) + "FAILED"))
		default:
			_, _ = c.Write([]byte(head("500 Internal Server Error", 5) + "error"))
		}
	default: // Healthy, and BadCertificate if the client went on anyway
		_, _ = c.Write([]byte(head("200 OK", 7) + "SUCCESS"))
	}
}
