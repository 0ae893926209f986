// Package endpoint says how to reach a server the agent talks to: http(s)
// URLs checked and redacted for logs, and the client side of TLS (CA
// bundle, client certificate, pinned certificate).
package endpoint

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
)

// ClientTLS builds the client side of a TLS connection from opts: the CA
// bundle to trust (the system pool if none), an optional client
// certificate, or a pinned certificate file.
func ClientTLS(opts TLSOptions) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify} //nolint:gosec // opt-in, warned by the caller
	if opts.CAFile != "" {
		pool, err := LoadCertPool(opts.CAFile)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = pool
	}
	if opts.CertFile != "" || opts.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if opts.PinFile != "" {
		pinned, err := readCertificates(opts.PinFile)
		if err != nil {
			return nil, err
		}
		// The name in the certificate need not match the address asked (a
		// local healthcheck asks 127.0.0.1): the exact certificate is the
		// proof, so the chain and name checks are replaced by a comparison.
		conf.InsecureSkipVerify = true //nolint:gosec // replaced by the pin below
		conf.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 {
				for _, p := range pinned {
					if bytes.Equal(raw[0], p.Raw) {
						return nil
					}
				}
			}
			return errors.New("certificate is not the pinned one")
		}
	}
	return conf, nil
}

// LoadCertPool reads a PEM bundle of CA certificates. A file that holds
// none (a key, a directory, garbage) is an error.
func LoadCertPool(path string) (*x509.CertPool, error) {
	certs, err := readCertificates(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	var certs []*x509.Certificate
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("CA file %s: no PEM certificates found", path)
	}
	return certs, nil
}

// TLSOptions configures https mirror-status URLs.
type TLSOptions struct {
	CAFile             string // PEM bundle to trust instead of the system pool
	InsecureSkipVerify bool   // accept any certificate; the caller logs a warning
	CertFile, KeyFile  string // client certificate, for a server that asks for one
	PinFile            string // trust exactly the certificates in this PEM file, whatever their names
}

// ParseHTTPURL accepts only absolute http and https URLs with a host.
func ParseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme must be http or https, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("bad port %q", p)
		}
	}
	return u, nil
}

// Redact drops userinfo, query and fragment so a URL is safe to log.
func Redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	c.RawFragment = ""
	return c.String()
}
