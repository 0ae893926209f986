package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// validateTLS checks the HTTPS settings of the HTTP listener: both files
// or neither, readable, a certificate that matches its key, and a client
// CA only with a certificate to serve.
func (c *Serve) validateTLS(bad func(flag string, value any, why string) error) error {
	if c.TLSCertFile == "" && c.TLSKeyFile == "" {
		if c.TLSClientCAFile != "" {
			return bad("tls-client-ca-file", c.TLSClientCAFile, "needs --tls-cert-file and --tls-key-file")
		}
		return nil
	}
	if c.HTTPListen == "" {
		return bad("tls-cert-file", c.TLSCertFile, "needs --http-listen")
	}
	if c.TLSCertFile == "" {
		return bad("tls-cert-file", "", "needed with --tls-key-file")
	}
	if c.TLSKeyFile == "" {
		return bad("tls-key-file", "", "needed with --tls-cert-file")
	}
	if err := CheckCertFile(c.TLSCertFile); err != nil {
		return bad("tls-cert-file", c.TLSCertFile, err.Error())
	}
	if err := readableFile(c.TLSKeyFile); err != nil {
		return bad("tls-key-file", c.TLSKeyFile, err.Error())
	}
	if _, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile); err != nil {
		return bad("tls-key-file", c.TLSKeyFile, oneLine(err))
	}
	if c.TLSClientCAFile != "" {
		if err := checkCAFile(c.TLSClientCAFile); err != nil {
			return bad("tls-client-ca-file", c.TLSClientCAFile, err.Error())
		}
	}
	return nil
}

// checkCAFile accepts a readable file holding at least one PEM certificate.
// Running as root, permissions do not stop a read, so a directory or a
// file of something else is what makes a CA file unusable in practice.
func checkCAFile(path string) error {
	if err := readableFile(path); err != nil {
		return err
	}
	if _, err := endpoint.LoadCertPool(path); err != nil {
		return errors.New("no PEM certificate in it")
	}
	return nil
}

// checkCertFile accepts a readable file whose first PEM block is a
// certificate that parses.
// CheckCertFile checks that path holds a readable PEM certificate.
func CheckCertFile(path string) error {
	if err := readableFile(path); err != nil {
		return err
	}
	data, _ := os.ReadFile(path)
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("no PEM certificate in it")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return errors.New("bad certificate: " + oneLine(err))
	}
	return nil
}

func readableFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return errors.New("cannot read: " + oneLine(errors.Unwrap(err)))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return errors.New("cannot read: " + oneLine(err))
	}
	if st.IsDir() {
		return errors.New("is a directory, not a file")
	}
	// A device or a pipe (/dev/zero, /dev/stdin) would hang the start.
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if _, err := f.Read(make([]byte, 1)); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("file is empty")
		}
		return errors.New("cannot read: " + oneLine(err))
	}
	return nil
}

func oneLine(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// CheckClientTLS validates a client's CA file and client certificate
// pair; the env names say which setting is wrong.
func CheckClientTLS(caFile, caEnv, certFile, certEnv, keyFile, keyEnv string) error {
	bad := func(env, value string, err error) error {
		return &Error{Flag: flagOfEnv(env), Env: env, Value: value, Err: err}
	}
	if caFile != "" {
		if err := checkCAFile(caFile); err != nil {
			return bad(caEnv, caFile, err)
		}
	}
	switch {
	case certFile == "" && keyFile == "":
		return nil
	case certFile == "":
		return bad(certEnv, "", errors.New("needed with --client-key-file"))
	case keyFile == "":
		return bad(keyEnv, "", errors.New("needed with --client-cert-file"))
	}
	if err := CheckCertFile(certFile); err != nil {
		return bad(certEnv, certFile, err)
	}
	if err := readableFile(keyFile); err != nil {
		return bad(keyEnv, keyFile, err)
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return bad(keyEnv, keyFile, errors.New(oneLine(err)))
	}
	return nil
}

// flagOfEnv maps MIRROR_AGENT_HEALTHCHECK_CA_FILE to ca-file: the
// subcommand's prefix (CHECK_, HEALTHCHECK_) is not part of the flag.
func flagOfEnv(env string) string {
	name := strings.TrimPrefix(env, Prefix)
	for _, p := range []string{"HEALTHCHECK_", "CHECK_"} {
		name = strings.TrimPrefix(name, p)
	}
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}
