package fence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The agent's own nftables objects. It never reads or writes any other
// table.
const (
	Table    = "iris_mirror_agent" // inet family: IPv4 and IPv6
	Chain    = "fence"
	Priority = -10 // "filter - 10": see doc.go on why the priority is not what makes it hold
)

// commentPrefix starts the comment of each rule the agent writes; the
// comments are also how the agent recognises its own rules.
const commentPrefix = "iris-mirror-agent fence: "

var (
	table = &nftables.Table{Name: Table, Family: nftables.TableFamilyINet}
	chain = &nftables.Chain{
		Name: Chain, Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(Priority),
		Policy: policyRef(nftables.ChainPolicyAccept),
	}
)

func policyRef(p nftables.ChainPolicy) *nftables.ChainPolicy { return &p }

// KernelState is what the kernel holds of the fence.
type KernelState struct {
	Closed   bool     // the table is there: new connections to Ports are refused
	Ports    []uint16 // read from the rules' comments
	Allow    []string // likewise
	Rejected uint64   // connections refused by the rules as they are now
	Intact   bool     // closed and exactly as the agent writes it (for the rule it was given)
	Problem  string   // why not intact, when closed
}

// rules are the fence's rules, in order: loopback passes, then each
// allowed prefix, then one reject per port. Matching the SYN (without
// ACK) rather than "ct state new" keeps conntrack out: the fence works
// where conntrack is not loaded and adds no state per connection.
func (r Rule) rules() []*nftables.Rule {
	var out []*nftables.Rule
	add := func(comment string, exprs ...expr.Any) {
		out = append(out, &nftables.Rule{Table: table, Chain: chain, Exprs: exprs,
			UserData: userdata.AppendString(nil, userdata.TypeComment, commentPrefix+comment)})
	}
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	lo := make([]byte, unix.IFNAMSIZ)
	copy(lo, "lo")
	add("loopback passes",
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: lo},
		accept)
	for _, p := range r.Allow {
		proto, off := byte(unix.NFPROTO_IPV4), uint32(12) // IPv4 source address
		if p.Addr().Is6() {
			proto, off = unix.NFPROTO_IPV6, 8
		}
		n := uint32(p.Addr().BitLen() / 8)
		add("allow "+p.String(),
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask(p), Xor: make([]byte, n)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
			accept)
	}
	for _, port := range r.Ports {
		add("refuse port "+strconv.Itoa(int(port)),
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{synAck}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{syn}},
			&expr.Counter{},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	}
	return out
}

// TCP flags: a new connection's first segment has SYN and not ACK.
const (
	syn    = 0x02
	synAck = 0x12
)

func mask(p netip.Prefix) []byte {
	m := make([]byte, p.Addr().BitLen()/8)
	for i := range p.Bits() {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// inspect reads the fence's table, if any, and compares it with want.
func inspect(c *nftables.Conn, want Rule) (KernelState, error) {
	var st KernelState
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return st, fmt.Errorf("nftables: list tables: %w", err)
	}
	var t *nftables.Table
	for _, x := range tables {
		if x.Name == Table {
			t = x
		}
	}
	if t == nil {
		return st, nil
	}
	st.Closed = true
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return st, fmt.Errorf("nftables: list chains: %w", err)
	}
	var ours []*nftables.Chain
	for _, ch := range chains {
		if ch.Table.Name == Table {
			ours = append(ours, ch)
		}
	}
	switch {
	case t.Flags != 0:
		st.Problem = fmt.Sprintf("table flags %#x (dormant?)", t.Flags)
	case len(ours) != 1 || ours[0].Name != Chain:
		st.Problem = fmt.Sprintf("%d chains in the table, want the one chain %q", len(ours), Chain)
	case !sameChain(ours[0]):
		st.Problem = "chain " + Chain + " has another hook, priority, type or policy"
	}
	if len(ours) == 0 {
		return st, nil
	}
	rules, err := c.GetRules(t, &nftables.Chain{Name: Chain, Table: t})
	if err != nil {
		// Gone between the two reads: say so; the caller writes it anew.
		st.Problem = "cannot read its rules: " + err.Error()
		return st, nil
	}
	wanted := want.rules()
	if st.Problem == "" && len(rules) != len(wanted) {
		st.Problem = fmt.Sprintf("%d rules, want %d", len(rules), len(wanted))
	}
	for i, r := range rules {
		comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		what := strings.TrimPrefix(comment, commentPrefix)
		if port, ok := strings.CutPrefix(what, "refuse port "); ok {
			if n, err := strconv.Atoi(port); err == nil {
				st.Ports = append(st.Ports, uint16(n))
			}
		}
		if p, ok := strings.CutPrefix(what, "allow "); ok {
			st.Allow = append(st.Allow, p)
		}
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				st.Rejected += ctr.Packets
			}
		}
		if st.Problem == "" && i < len(wanted) && !sameRule(r, wanted[i]) {
			st.Problem = "rule " + strconv.Itoa(i+1) + " differs (" + strconv.Quote(comment) + ")"
		}
	}
	st.Intact = st.Problem == ""
	return st, nil
}

func sameChain(ch *nftables.Chain) bool {
	return ch.Hooknum != nil && *ch.Hooknum == *chain.Hooknum &&
		ch.Priority != nil && *ch.Priority == *chain.Priority &&
		ch.Type == chain.Type && (ch.Policy == nil || *ch.Policy == nftables.ChainPolicyAccept)
}

// sameRule compares a rule read back with one the agent writes: the
// comment and the expressions but the counter's values.
func sameRule(got, want *nftables.Rule) bool {
	if string(got.UserData) != string(want.UserData) || len(got.Exprs) != len(want.Exprs) {
		return false
	}
	for i := range got.Exprs {
		if _, ok := got.Exprs[i].(*expr.Counter); ok {
			if _, ok := want.Exprs[i].(*expr.Counter); ok {
				continue
			}
		}
		if fmt.Sprintf("%#v", got.Exprs[i]) != fmt.Sprintf("%#v", want.Exprs[i]) {
			return false
		}
	}
	return true
}

// writeClosed makes the table exactly the fence's, in one transaction:
// the old table (if any) goes and the new one comes at the same instant,
// so no packet sees the member without its rule.
func writeClosed(c *nftables.Conn, r Rule, exists bool) error {
	if exists {
		c.DelTable(table)
	}
	c.AddTable(table)
	c.AddChain(chain)
	for _, rule := range r.rules() {
		c.AddRule(rule)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: write table %s: %w", Table, err)
	}
	return nil
}

// deleteTable removes the fence's table; gone already is fine.
func deleteTable(c *nftables.Conn) error {
	c.DelTable(table)
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nftables: delete table %s: %w", Table, err)
	}
	return nil
}
