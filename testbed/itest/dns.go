package itest

import (
	"net"
	"sync/atomic"
	"testing"
)

// NXDomain is a DNS server on a loopback address that answers every query
// "no such name" and counts them. Pointing a process's resolv.conf at it
// (WithFiles) proves that its lookups stay on this host.
type NXDomain struct {
	IP      string
	queries atomic.Uint64
}

// StartNXDomain listens on ip:53 (UDP) until the test ends.
func StartNXDomain(t testing.TB, ip string) *NXDomain {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "53"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	d := &NXDomain{IP: ip}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			d.queries.Add(1)
			// Echo the query with QR=1, RD kept, RA=1, RCODE=3 (NXDOMAIN)
			// and no answers: the header's counts already say 1 question.
			resp := append([]byte(nil), buf[:n]...)
			resp[2] = 0x80 | resp[2]&0x01
			resp[3] = 0x80 | 0x03
			for i := 6; i < 12; i++ {
				resp[i] = 0 // no answer, authority or additional records
			}
			_, _ = pc.WriteTo(trimAdditional(resp), from)
		}
	}()
	return d
}

// trimAdditional cuts the message after its first question, dropping an
// EDNS record the header no longer counts.
func trimAdditional(m []byte) []byte {
	i := 12
	for i < len(m) && m[i] != 0 {
		i += int(m[i]) + 1
	}
	if i+5 <= len(m) {
		return m[:i+5] // the root label, QTYPE and QCLASS
	}
	return m
}

// Queries is how many queries reached the server.
func (d *NXDomain) Queries() uint64 { return d.queries.Load() }
