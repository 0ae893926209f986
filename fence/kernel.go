package fence

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Rule is what the fence refuses and whom it spares.
type Rule struct {
	Ports []uint16       // TCP ports refused to new connections while closed
	Allow []netip.Prefix // clients never refused nor cut (loopback always passes)
}

// ErrNoCapability is returned when the process may not change the
// network namespace's firewall or sockets.
var ErrNoCapability = errors.New("needs CAP_NET_ADMIN in the member's network namespace")

// Kernel is the fence's hold on one network namespace: the agent's
// nftables table and the sessions to cut. Its methods are not safe for
// concurrent use.
type Kernel struct {
	rule Rule
	nft  *nftables.Conn
	sock *sockets
}

// OpenKernel opens netlink connections to the calling process's network
// namespace for rule.
func OpenKernel(rule Rule) (*Kernel, error) {
	return openKernelAt(rule, netns.None())
}

// openKernelAt opens them to the namespace ns (tests run the fence in
// namespaces they create).
func openKernelAt(rule Rule, ns netns.NsHandle) (*Kernel, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if ns.IsOpen() {
		opts = append(opts, nftables.WithNetNSFd(int(ns)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, capErr(fmt.Errorf("nftables: %w", err))
	}
	s, err := openSockets(ns)
	if err != nil {
		_ = c.CloseLasting()
		return nil, capErr(err)
	}
	return &Kernel{rule: rule, nft: c, sock: s}, nil
}

// Release closes the netlink connections. The kernel state stays.
func (k *Kernel) Release() {
	_ = k.nft.CloseLasting()
	k.sock.close()
}

// Check makes sure the fence can work here: it may read the firewall,
// and the kernel can list and cut sessions.
func (k *Kernel) Check() error {
	if _, err := k.Inspect(); err != nil {
		return err
	}
	return capErr(k.sock.check())
}

// Inspect reads what the kernel holds of the fence.
func (k *Kernel) Inspect() (KernelState, error) {
	st, err := inspect(k.nft, k.rule)
	return st, capErr(err)
}

// Close makes sure the fence's rule is in place and exactly as written
// by the agent, rewriting it otherwise. It returns what it found before.
func (k *Kernel) Close() (KernelState, error) {
	st, err := k.Inspect()
	if err != nil || st.Intact {
		return st, err
	}
	return st, capErr(writeClosed(k.nft, k.rule, st.Closed))
}

// Open makes sure the fence's table is gone. It returns what it found.
func (k *Kernel) Open() (KernelState, error) {
	st, err := k.Inspect()
	if err != nil || !st.Closed {
		return st, err
	}
	return st, capErr(deleteTable(k.nft))
}

// Cut destroys the established sessions to the fenced ports, except
// those from loopback and allowed clients, and returns how many.
func (k *Kernel) Cut() (int, error) {
	n, err := k.sock.cut(k.rule)
	return n, capErr(err)
}

// capErr words a permission error as the missing capability.
func capErr(err error) error {
	if err != nil && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) {
		return fmt.Errorf("%w (%v)", ErrNoCapability, err)
	}
	return err
}
