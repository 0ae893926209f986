package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// TLSFiles are the PEM files of the HTTPS listener.
type TLSFiles struct {
	Cert, Key string
	ClientCA  string // if set, clients must present a certificate it signed
}

// TLSReloader serves the certificate last loaded from its files. Reload
// swaps it in for new handshakes; connections already open keep theirs.
type TLSReloader struct {
	files TLSFiles
	cur   atomic.Pointer[tls.Config]
}

// NewTLSReloader loads the files once; an error means nothing is served.
func NewTLSReloader(files TLSFiles) (*TLSReloader, error) {
	r := &TLSReloader{files: files}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again. On error the previous certificate stays.
func (r *TLSReloader) Reload() error {
	cert, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
	if r.files.ClientCA != "" {
		pool, err := endpoint.LoadCertPool(r.files.ClientCA)
		if err != nil {
			return fmt.Errorf("load client CA: %w", err)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	r.cur.Store(conf)
	return nil
}

// Leaf is the certificate served now.
func (r *TLSReloader) Leaf() (*x509.Certificate, error) {
	return x509.ParseCertificate(r.cur.Load().Certificates[0].Certificate[0])
}

// Config is the listener's TLS configuration: each handshake takes the
// configuration current at that moment.
func (r *TLSReloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load(), nil
		},
	}
}
