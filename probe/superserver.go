package probe

import (
	"context"
	"net"
	"time"
)

// SuperServerName is the probe name used in results, logs and /status.
const SuperServerName = "superserver"

// SuperServer connects to the member's SuperServer port (1972) and closes.
// Every running member accepts, primary or not: Up proves the instance is
// serving, not that it is primary.
func SuperServer(ctx context.Context, addr string) Result {
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	res := Result{Probe: SuperServerName}
	if err != nil {
		res.Outcome, res.Reason = Error, "superserver "+describeNetError(err)
	} else {
		conn.Close()
		res.Outcome, res.Reason = Up, "superserver accepted"
	}
	res.Latency = time.Since(start)
	return res
}
