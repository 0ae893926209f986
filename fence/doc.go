// Package fence makes the member's own kernel refuse clients while the
// member is not the primary: an nftables rule in the member's network
// namespace resets new TCP connections to the fenced ports, and the
// sessions already established are cut (SOCK_DESTROY over inet_diag, what
// `ss -K` does). Unlike a gate, nothing sits on the data path: an
// accepted connection never meets the agent.
//
// The agent owns one table, inet iris_mirror_agent, with one base chain
// at the input hook, and touches no other. While the fence is open the
// table does not exist, so a primary's packets cross no rule at all. While
// it is closed the chain passes loopback and the allowed prefixes, then
// rejects with a TCP reset every segment to a fenced port that has SYN
// and not ACK: matching flags rather than "ct state new" keeps conntrack
// out (the fence works where it is not loaded and keeps no state per
// connection), and answers and outgoing connections never match.
//
// The chain's priority (filter - 10) is not what makes the fence hold:
// netfilter runs every base chain at a hook, and an accept in another
// table's chain does not skip ours, while a drop or reject in any chain is
// final. So no other table's rules can let a client past the fence.
//
// The fence follows verdicts it is given (Set) with a lease: open only
// until the lease ends, unless a later Set renews it. Set only stores
// the wish and wakes the fence's goroutine (Run), so the publisher of
// verdicts never waits on netlink. Every Set also checks that the kernel
// still holds what the fence wrote, and writes it again if not (after
// `nft flush ruleset`, say).
package fence
