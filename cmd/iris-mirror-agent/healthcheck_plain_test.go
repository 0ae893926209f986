package main

import (
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/irismirror/iris-mirror-agent/endpoint"
	"github.com/irismirror/iris-mirror-agent/extcheck"
)

// TestPlainHealthcheckAgrees: wherever iris-mirror-check reads the
// healthcheck's settings itself (extcheck.PlainHealthcheck), it reads them
// as this binary does (loadHealthcheck): same URL, same address, same
// timeout, no TLS. Every combination of the values below is tried; the
// rest is handed over to this binary, never guessed.
func TestPlainHealthcheckAgrees(t *testing.T) {
	const unset = "\x00unset"
	listens := []string{unset, ":9797", "0.0.0.0:19797", "[::]:9797", "127.0.0.5:9797", "[::1]:9797", "[0:0::1]:9797", "[::ffff:127.0.0.1]:9797",
		"[127.0.0.1]:9797", "localhost:9797", ":0", "", "127.0.0.1:09797", "127.0.0.1:http", "[fe80::1%eth0]:9797", "::1:9797", "1.2.3.4", "127.0.0.1:65536"}
	endpoints := []string{unset, "live", "health", "primary", "standby", "", "LIVE"}
	timeouts := []string{unset, "2s", "500ms", "1m", "0s", "2m", "-1s", "x", "", "1h"}
	extras := [][]string{nil, {"MIRROR_AGENT_HEALTHCHECK_URL=http://127.0.0.1:9797"}, {"MIRROR_AGENT_TLS_CERT_FILE="}, {"MIRROR_AGENT_HEALTHCHECK_CA_FILE=/ca.pem"}}
	plain := 0
	for _, l := range listens {
		for _, e := range endpoints {
			for _, to := range timeouts {
				for _, x := range extras {
					environ := append([]string{"PATH=/bin"}, x...)
					for k, v := range map[string]string{"HTTP_LISTEN": l, "HEALTHCHECK_ENDPOINT": e, "HEALTHCHECK_TIMEOUT": to} {
						if v != unset {
							environ = append(environ, "MIRROR_AGENT_"+k+"="+v)
						}
					}
					hc, ok := extcheck.PlainHealthcheck(nil, environ)
					if !ok {
						continue
					}
					plain++
					cfg, err := loadHealthcheck(nil, environ, io.Discard)
					if err != nil {
						t.Errorf("%q: iris-mirror-check reads %+v; iris-mirror-agent fails: %v", environ, hc, err)
						continue
					}
					host, path, _ := strings.Cut(strings.TrimPrefix(cfg.URL, "http://"), "/")
					dialed, perr := netip.ParseAddrPort(host)
					if cfg.URL != hc.URL || cfg.Timeout != hc.Timeout || cfg.TLS() != (endpoint.TLSOptions{}) ||
						hc.Request.Host != host || hc.Request.Path != "/"+path || perr != nil || dialed != hc.Addr {
						t.Errorf("%q: iris-mirror-check reads %+v; iris-mirror-agent %+v", environ, hc, cfg)
					}
				}
			}
		}
	}
	if plain < 100 {
		t.Errorf("only %d combinations read without iris-mirror-agent", plain)
	}
	if _, ok := extcheck.PlainHealthcheck([]string{"--endpoint", "live"}, nil); ok {
		t.Error("flags are iris-mirror-agent's to read")
	}
	if hc, ok := extcheck.PlainHealthcheck(nil, nil); !ok || hc.URL != "http://127.0.0.1:9797/live" {
		t.Errorf("the image's defaults: %+v %v", hc, ok)
	}
}
