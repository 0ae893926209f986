package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/irismirror/iris-mirror-agent/endpoint"
)

// MirrorStatusName is the probe name used in results, logs and /status.
const MirrorStatusName = "mirror_status"

// MaxBody is how much of a mirror_status.cxw body is read. The real answer
// is seven bytes; anything past this is not an answer we trust.
const MaxBody = 4096

// maxResponseHeaderBytes caps what a broken or hostile gateway can make us
// buffer before the body.
const maxResponseHeaderBytes = 16 << 10

// HTTPTarget is a mirror_status.cxw URL bound to the client that asks it.
type HTTPTarget struct {
	URL     string // the full URL, possibly with credentials: never shown
	Display string // the URL without userinfo and query, safe for logs and /status
	client  *retryablehttp.Client
}

// NewHTTPTarget validates rawURL and builds the retrying client for it.
// Retries happen only on transport errors (refused, reset), never on an HTTP
// status (a 503 is an answer), and never past the probe's deadline.
func NewHTTPTarget(rawURL string, tlsOpts endpoint.TLSOptions) (HTTPTarget, error) {
	u, err := endpoint.ParseHTTPURL(rawURL)
	if err != nil {
		return HTTPTarget{}, err
	}
	tlsConf, err := endpoint.ClientTLS(tlsOpts)
	if err != nil {
		return HTTPTarget{}, err
	}
	transport := &http.Transport{
		Proxy:                  nil, // the member is local; never route probes through a proxy from the environment
		DialContext:            (&net.Dialer{KeepAlive: -1}).DialContext,
		TLSClientConfig:        tlsConf,
		MaxIdleConns:           1,
		MaxIdleConnsPerHost:    1,
		IdleConnTimeout:        30 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		ForceAttemptHTTP2:      false,
	}
	client := &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: transport,
			// A redirect is not an answer from this member.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Logger:       nil,
		RetryWaitMin: 20 * time.Millisecond,
		RetryWaitMax: 100 * time.Millisecond,
		RetryMax:     2,
		CheckRetry:   retryTransportErrors,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return HTTPTarget{URL: rawURL, Display: endpoint.Redact(u), client: client}, nil
}

// retryTransportErrors retries refused and reset connections while the
// deadline allows. It never retries an HTTP response, a timeout or a TLS
// verification failure: those are answers, or retrying cannot help.
func retryTransportErrors(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil || err == nil || resp != nil {
		return false, nil
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return false, nil
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return false, nil
	}
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
		return false, nil
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false, nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 20*time.Millisecond {
		return false, nil
	}
	return true, nil
}

// MirrorStatus asks the member's /csp/mirror_status.cxw whether it is the
// primary. 200 with body SUCCESS is Primary, 503 is NotPrimary, anything
// else is an Error with the reason.
func MirrorStatus(ctx context.Context, t HTTPTarget) Result {
	start := time.Now()
	res := mirrorStatus(ctx, t)
	res.Probe = MirrorStatusName
	res.Latency = time.Since(start)
	return res
}

func mirrorStatus(ctx context.Context, t HTTPTarget) Result {
	if t.client == nil {
		return Result{Outcome: Error, Reason: "probe not configured"}
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return Result{Outcome: Error, Reason: "bad request: " + err.Error()}
	}
	req.Header.Set("User-Agent", "iris-mirror-agent")
	resp, err := t.client.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return Result{Outcome: Error, Reason: "mirror_status " + describeHTTPError(ctxCause(ctx, err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Result{Outcome: Error, Reason: fmt.Sprintf("mirror_status %d, body cut: %s", resp.StatusCode, describeNetError(ctxCause(ctx, err)))}
	}
	out, reason := ClassifyMirrorStatus(resp.StatusCode, body)
	return Result{Outcome: out, Reason: reason}
}

// ClassifyMirrorStatus decides on the status code first, then on the body
// trimmed of ASCII white space: 200 SUCCESS is the primary, 503 FAILED a
// member that is up and not the primary. Anything else (another body, such
// as a proxy's error page; a body over MaxBody; another status) is not an
// answer from IRIS, and never a role.
func ClassifyMirrorStatus(status int, body []byte) (Outcome, string) {
	if status != http.StatusOK && status != http.StatusServiceUnavailable {
		return Error, fmt.Sprintf("mirror_status unexpected status %d", status)
	}
	if len(body) > MaxBody {
		return Error, fmt.Sprintf("mirror_status %d with a body over %d bytes", status, MaxBody)
	}
	trimmed := bytes.Trim(body, asciiSpace)
	switch {
	case status == http.StatusOK && string(trimmed) == "SUCCESS":
		return Primary, "mirror_status 200 SUCCESS"
	case status == http.StatusServiceUnavailable && string(trimmed) == "FAILED":
		return NotPrimary, "mirror_status 503 FAILED"
	}
	return Error, fmt.Sprintf("mirror_status %d with unexpected body '%s'", status, printable(trimmed, 24))
}

// asciiSpace is the white space trimmed around a body: ASCII only, so a
// no-break space or the like makes the body something else.
const asciiSpace = " \t\r\n\v\f"

// printable renders at most n bytes of b as plain ASCII safe for a reason
// (no quotes, no '#', no control bytes), marking a cut with "...".
func printable(b []byte, n int) string {
	cut := false
	if len(b) > n {
		b, cut = b[:n], true
	}
	out := make([]byte, 0, len(b)+3)
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\'' || c == '#' {
			c = '?'
		}
		out = append(out, c)
	}
	if cut {
		out = append(out, '.', '.', '.')
	}
	return string(out)
}

// ctxCause prefers the deadline over whatever the transport saw when the
// deadline closed the connection under it ("use of closed network
// connection", a failed peek): the cause is the timeout.
func ctxCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func describeHTTPError(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return "tls: certificate not trusted"
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return "tls: server did not answer TLS"
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return "tls handshake: " + alert.Error()
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return "tls: server answered plain HTTP"
	}
	return describeNetError(err)
}
