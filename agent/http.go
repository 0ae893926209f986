package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/irismirror/iris-mirror-agent/config"
	"github.com/irismirror/iris-mirror-agent/httpapi"
)

// httpServer is the HTTP port: the questions, /status and /metrics, with
// TLS when configured and the connection limit in front.
type httpServer struct {
	ln  net.Listener // the bound port
	srv *http.Server
	tls *httpapi.TLSReloader // nil without --tls-cert-file
	log zerolog.Logger
}

// setHandler loads the certificate (if any) and builds the server.
func (s *httpServer) setHandler(cfg *config.Serve, h http.Handler) error {
	if cfg.TLSCertFile != "" {
		r, err := httpapi.NewTLSReloader(httpapi.TLSFiles{Cert: cfg.TLSCertFile, Key: cfg.TLSKeyFile, ClientCA: cfg.TLSClientCAFile})
		if err != nil {
			return err
		}
		s.tls = r
	}
	s.srv = httpapi.NewServer(h)
	// net/http reports failed handshakes and the like on the standard
	// logger; a hostile client would flood stderr with them.
	s.srv.ErrorLog = stdlog.New(debugWriter{s.log}, "", 0)
	return nil
}

// serve runs the server until ctx is done, then shuts it down.
func (s *httpServer) serve(ctx context.Context) error {
	ln := s.ln
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls.Config())
	}
	// The limit sees the *tls.Conn the server sees, so it can tell which
	// connections are idle.
	ln, _ = httpapi.LimitConns(s.srv, ln, httpapi.MaxConns)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
	})
	defer stop()
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

// reload reloads the certificate; a failed reload keeps serving the
// previous one.
func (s *httpServer) reload() {
	if err := s.tls.Reload(); err != nil {
		s.log.Error().Err(err).Msg("SIGHUP: certificate not reloaded, still serving the previous one")
		return
	}
	ev := s.log.Info()
	if leaf, err := s.tls.Leaf(); err == nil {
		ev = ev.Str("subject", leaf.Subject.String()).Time("not_after", leaf.NotAfter)
	}
	ev.Msg("SIGHUP: certificate reloaded")
}

// debugWriter turns the standard logger's lines into debug events.
type debugWriter struct{ log zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Debug().Str("component", "http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
