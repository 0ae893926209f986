package fence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// sockets finds and cuts the sessions to the fenced ports: an inet_diag
// dump and one SOCK_DESTROY per session, what `ss -K` does, over
// vishvananda/netlink's netlink plumbing (its requests, multipart
// replies, acks and errors). The library's own dump and destroy do not
// fit: the dump asks for every state and every socket's tcp_info (a
// backup with allowed clients holds thousands of TIME_WAIT sockets, and
// dumping them each round cost those clients half their throughput in
// the benchmark), and the destroy sends no cookie and knows only IPv4.
type sockets struct {
	h    *netlink.Handle  // route look-ups
	diag *nl.SocketHandle // inet_diag dumps and SOCK_DESTROY requests
}

// netlinkTimeout bounds every request on the fence's netlink sockets.
var netlinkTimeout = 5 * time.Second

func openSockets(ns netns.NsHandle) (*sockets, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_INET_DIAG)
	if err == nil {
		tv := unix.NsecToTimeval(netlinkTimeout.Nanoseconds())
		if err = s.SetSendTimeout(&tv); err == nil {
			err = s.SetReceiveTimeout(&tv)
		}
		if err != nil {
			s.Close()
		}
	}
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink inet_diag: %w", err)
	}
	return &sockets{h: h, diag: &nl.SocketHandle{Socket: s}}, nil
}

func (s *sockets) close() {
	s.h.Close()
	s.diag.Close()
}

// check makes sure the kernel can list and destroy TCP sockets: a dump,
// and a SOCK_DESTROY of a session that cannot exist, which a kernel with
// CONFIG_INET_DIAG_DESTROY answers "no such socket".
func (s *sockets) check() error {
	if _, err := s.dump(unix.AF_INET); err != nil {
		return err
	}
	none := &netlink.Socket{Family: unix.AF_INET, ID: netlink.SocketID{
		Source: net.IPv4zero, Destination: net.IPv4zero, Cookie: [2]uint32{0xfffffffe, 0xfffffffe},
	}}
	switch err := s.kill(none); {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EOPNOTSUPP):
		return errors.New("SOCK_DESTROY: this kernel cannot cut sessions (CONFIG_INET_DIAG_DESTROY is off)")
	case err == nil:
		return errors.New("SOCK_DESTROY: the kernel destroyed a socket that cannot exist")
	default:
		return fmt.Errorf("SOCK_DESTROY: %w", err)
	}
}

// States a session to a fenced port is cut in: the ones that carry a
// client's requests (not LISTEN, not the closing states).
var cutStates = map[uint8]bool{netlink.TCP_ESTABLISHED: true, netlink.TCP_SYN_RECV: true, netlink.TCP_CLOSE_WAIT: true}

// cut destroys the sessions to r's ports from clients the fence does not
// spare, and returns how many it destroyed. Only sessions on a port with
// a listener count: the kernel never hands a listened port out as the
// local port of an outgoing connection, so that keeps the member's own
// connections (to the other member's 1972, say) out of it.
func (s *sockets) cut(r Rule) (int, error) {
	var all []*netlink.Socket
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		socks, err := s.dump(fam)
		if err != nil {
			return 0, err
		}
		all = append(all, socks...)
	}
	fenced := map[uint16]bool{}
	for _, p := range r.Ports {
		fenced[p] = true
	}
	listened := map[uint16]bool{}
	for _, sk := range all {
		if sk.State == netlink.TCP_LISTEN && fenced[sk.ID.SourcePort] {
			listened[sk.ID.SourcePort] = true
		}
	}
	local := map[netip.Addr]bool{}
	n := 0
	var firstErr error
	for _, sk := range all {
		if !cutStates[sk.State] || !listened[sk.ID.SourcePort] {
			continue
		}
		remote, ok := netip.AddrFromSlice(sk.ID.Destination)
		if !ok {
			continue
		}
		remote = remote.Unmap()
		if r.allows(remote) {
			continue
		}
		isLocal, seen := local[remote]
		if !seen {
			isLocal = s.isLocal(remote)
			local[remote] = isLocal
		}
		if isLocal {
			continue // came over loopback, as the rule lets it
		}
		switch err := s.kill(sk); {
		case err == nil:
			n++
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESTALE):
			// Ended since the dump; a new socket on the same ports has
			// another cookie and is left for the next sweep.
		default:
			if firstErr == nil {
				firstErr = fmt.Errorf("SOCK_DESTROY: %w", err)
			}
		}
	}
	return n, firstErr
}

// allows reports whether addr is in the allow list.
func (r Rule) allows(addr netip.Addr) bool {
	for _, p := range r.Allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// isLocal reports whether the kernel routes addr to this namespace
// itself: a connection from such an address came over loopback, as the
// rule's "iifname lo" sees it, whatever interface holds the address.
func (s *sockets) isLocal(addr netip.Addr) bool {
	routes, err := s.h.RouteGet(addr.AsSlice())
	if err != nil {
		return false
	}
	for _, rt := range routes {
		if rt.Type == unix.RTN_LOCAL {
			return true
		}
	}
	return false
}

// dumpStates are the states a sweep reads: the ones it cuts, and LISTEN
// to know which ports are served here.
const dumpStates = 1<<netlink.TCP_ESTABLISHED | 1<<netlink.TCP_SYN_RECV | 1<<netlink.TCP_CLOSE_WAIT | 1<<netlink.TCP_LISTEN

// dump lists the TCP sockets of family in dumpStates. An interrupted dump
// (the table changed meanwhile) is used as it is: the next sweep finds
// the rest.
func (s *sockets) dump(family uint8) ([]*netlink.Socket, error) {
	req := nl.NewNetlinkRequest(nl.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: s.diag}
	req.AddData(diagReq{sk: &netlink.Socket{Family: family}, states: dumpStates})
	var out []*netlink.Socket
	err := req.ExecuteIter(unix.NETLINK_INET_DIAG, nl.SOCK_DIAG_BY_FAMILY, func(msg []byte) bool {
		if sk, ok := parseDiagMsg(msg); ok {
			out = append(out, sk)
		}
		return true
	})
	if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
		return nil, fmt.Errorf("inet_diag dump: %w", err)
	}
	return out, nil
}

// parseDiagMsg reads the fixed part of a struct inet_diag_msg.
func parseDiagMsg(b []byte) (*netlink.Socket, bool) {
	if len(b) < 72 {
		return nil, false
	}
	sk := &netlink.Socket{Family: b[0], State: b[1]}
	n := net.IPv6len
	if sk.Family == unix.AF_INET {
		n = net.IPv4len
	}
	sk.ID.SourcePort = binary.BigEndian.Uint16(b[4:])
	sk.ID.DestinationPort = binary.BigEndian.Uint16(b[6:])
	sk.ID.Source = net.IP(append([]byte(nil), b[8:8+n]...))
	sk.ID.Destination = net.IP(append([]byte(nil), b[24:24+n]...))
	sk.ID.Interface = binary.NativeEndian.Uint32(b[40:])
	sk.ID.Cookie = [2]uint32{binary.NativeEndian.Uint32(b[44:]), binary.NativeEndian.Uint32(b[48:])}
	return sk, true
}

// kill sends SOCK_DESTROY for one socket, with its cookie: if that
// socket is gone, the kernel's look-up by address may find the port's
// listener instead, and the cookie is what keeps it from destroying it.
func (s *sockets) kill(sk *netlink.Socket) error {
	req := nl.NewNetlinkRequest(nl.SOCK_DESTROY, unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: s.diag}
	req.AddData(diagReq{sk: sk})
	_, err := req.Execute(unix.NETLINK_INET_DIAG, 0)
	return err
}

// diagReq is a struct inet_diag_req_v2: a dump of the TCP sockets of a
// family in states, or the one socket sk names.
type diagReq struct {
	sk     *netlink.Socket
	states uint32
}

const sizeofDiagReq = 56

func (d diagReq) Len() int { return sizeofDiagReq }

func (d diagReq) Serialize() []byte {
	b := make([]byte, sizeofDiagReq)
	b[0], b[1] = d.sk.Family, unix.IPPROTO_TCP // b[2] ext, b[3] pad: none
	binary.NativeEndian.PutUint32(b[4:], d.states)
	binary.BigEndian.PutUint16(b[8:], d.sk.ID.SourcePort)
	binary.BigEndian.PutUint16(b[10:], d.sk.ID.DestinationPort)
	addr := func(ip net.IP) []byte {
		if d.sk.Family == unix.AF_INET {
			return ip.To4()
		}
		return ip.To16()
	}
	copy(b[12:28], addr(d.sk.ID.Source))
	copy(b[28:44], addr(d.sk.ID.Destination))
	binary.NativeEndian.PutUint32(b[44:], d.sk.ID.Interface)
	binary.NativeEndian.PutUint32(b[48:], d.sk.ID.Cookie[0])
	binary.NativeEndian.PutUint32(b[52:], d.sk.ID.Cookie[1])
	return b
}
