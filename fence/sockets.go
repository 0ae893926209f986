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
// dump (vishvananda/netlink) and one SOCK_DESTROY per session, what
// `ss -K` does.
type sockets struct {
	h       *netlink.Handle  // inet_diag dumps and route look-ups
	destroy *nl.SocketHandle // SOCK_DESTROY requests
}

// netlinkTimeout bounds every request on the fence's netlink sockets.
var netlinkTimeout = 5 * time.Second

func openSockets(ns netns.NsHandle) (*sockets, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_INET_DIAG, unix.NETLINK_ROUTE)
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
	return &sockets{h: h, destroy: &nl.SocketHandle{Socket: s}}, nil
}

func (s *sockets) close() {
	s.h.Close()
	s.destroy.Close()
}

// check makes sure the kernel can list and destroy TCP sockets: a dump,
// and a SOCK_DESTROY of a session that cannot exist, which a kernel with
// CONFIG_INET_DIAG_DESTROY answers "no such socket".
func (s *sockets) check() error {
	if _, err := s.h.SocketDiagTCP(unix.AF_INET); err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("inet_diag dump: %w", err)
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
		socks, err := s.h.SocketDiagTCP(fam)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return 0, fmt.Errorf("inet_diag dump: %w", err)
		}
		all = append(all, socks...) // an interrupted dump: the next sweep finds the rest
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

// kill sends SOCK_DESTROY for one socket, with its cookie: if that
// socket is gone, the kernel's look-up by address may find the port's
// listener instead, and the cookie is what keeps it from destroying it.
func (s *sockets) kill(sk *netlink.Socket) error {
	req := nl.NewNetlinkRequest(nl.SOCK_DESTROY, unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_INET_DIAG: s.destroy}
	req.AddData(diagReq{sk})
	_, err := req.Execute(unix.NETLINK_INET_DIAG, 0)
	return err
}

// diagReq is a struct inet_diag_req_v2 naming one TCP socket. The
// library's own SocketDestroy cannot be used: it sends no cookie and
// knows only IPv4.
type diagReq struct{ sk *netlink.Socket }

const sizeofDiagReq = 56

func (d diagReq) Len() int { return sizeofDiagReq }

func (d diagReq) Serialize() []byte {
	b := make([]byte, sizeofDiagReq)
	b[0], b[1] = d.sk.Family, unix.IPPROTO_TCP
	// b[2] ext, b[3] pad, b[4:8] states: unused by SOCK_DESTROY.
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
