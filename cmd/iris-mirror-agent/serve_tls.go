package main

import (
	"context"
	"crypto/tls"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/httpapi"
)

// httpTLS loads the HTTPS certificate of the HTTP listener; nil when TLS
// is off.
func httpTLS(cfg *config.Serve) (*httpapi.TLSReloader, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	return httpapi.NewTLSReloader(httpapi.TLSFiles{Cert: cfg.TLSCertFile, Key: cfg.TLSKeyFile, ClientCA: cfg.TLSClientCAFile})
}

// httpListener puts TLS (when on) and then the connection limit in front
// of the HTTP port. The limit sees the *tls.Conn the server sees, so it
// can tell which connections are idle.
func httpListener(srv *http.Server, ln net.Listener, tlsr *httpapi.TLSReloader, log zerolog.Logger) net.Listener {
	// net/http reports failed handshakes and the like on the standard
	// logger; a hostile client would flood stderr with them.
	srv.ErrorLog = stdlog.New(debugWriter{log}, "", 0)
	if tlsr != nil {
		ln = tls.NewListener(ln, tlsr.Config())
	}
	ln, _ = httpapi.LimitConns(srv, ln, httpapi.MaxConns)
	return ln
}

// reloadOnHangup reloads the certificate on SIGHUP until ctx ends. A
// failed reload keeps the certificate being served. Without TLS (tlsr nil)
// SIGHUP is only logged: a stray hangup must not stop the agent.
func reloadOnHangup(ctx context.Context, tlsr *httpapi.TLSReloader, log zerolog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		}
		if tlsr == nil {
			log.Info().Msg("SIGHUP: nothing to reload (no --tls-cert-file)")
			continue
		}
		if err := tlsr.Reload(); err != nil {
			log.Error().Err(err).Msg("SIGHUP: certificate not reloaded, still serving the previous one")
			continue
		}
		ev := log.Info()
		if leaf, err := tlsr.Leaf(); err == nil {
			ev = ev.Str("subject", leaf.Subject.String()).Time("not_after", leaf.NotAfter)
		}
		ev.Msg("SIGHUP: certificate reloaded")
	}
}

// debugWriter turns the standard logger's lines into debug events.
type debugWriter struct{ log zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Debug().Str("component", "http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
