// Package probe asks an IRIS mirror member one question at a time.
//
// Each probe is a function of (ctx, target) that returns a Result with its
// outcome, the reason in words, and how long it took. The caller owns the
// deadline: a probe never outlives ctx.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Outcome is what a probe learned.
type Outcome uint8

const (
	// Error means no authoritative answer: timeout, refused, reset, a status
	// or body the probe does not understand. Never a role.
	Error Outcome = iota
	// Up means the target answered as a live service (SuperServer accepted).
	Up
	// Primary means mirror_status.cxw answered 200 with body SUCCESS.
	Primary
	// NotPrimary means mirror_status.cxw answered 503: the member is up and
	// authoritatively not the primary (backup or async).
	NotPrimary
)

var outcomeNames = [...]string{Error: "error", Up: "up", Primary: "primary", NotPrimary: "not_primary"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", o)
}

// Healthy reports whether the outcome is a good, authoritative answer.
func (o Outcome) Healthy() bool { return o != Error }

// Result is one probe's answer.
type Result struct {
	Probe   string        // probe name, such as "mirror_status" or "superserver"
	Outcome Outcome       // what was learned
	Reason  string        // short human reason, safe to show (no credentials)
	Latency time.Duration // time spent, including retries
	QList   *QList        // the parsed line, from the qlist probe only
}

// Func is the shape every probe kind has once bound to its target.
type Func func(ctx context.Context) Result

// describeNetError turns a dial/read error into a short, stable reason.
func describeNetError(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return "dns: no such host " + dnsErr.Name
		}
		if dnsErr.IsTimeout {
			return "dns: timeout"
		}
		return "dns: " + dnsErr.Err
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timeout"
	}
	msg := err.Error()
	if strings.Contains(msg, "EOF") {
		return "connection closed before a response"
	}
	return msg
}
