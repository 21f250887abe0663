// Kernel change notifications, classified against what wgmesh owns (SPEC 8): the daemon
// holds its routes, addresses, link and forwarding rules instead of only polling them, and
// schedules a debounced repair as soon as something it owns is removed or changed.
//
// KernelMonitor subscribes to rtnetlink (IPv4/IPv6 routes and addresses, links, IPv4/IPv6
// netconf: the forwarding and rp_filter sysctls) and to the nf_tables events, behind ONE pollable
// fd for the daemon's poll loop; drain() reads what is pending without blocking and returns a
// classified summary. The classification itself is a pair of pure functions over received
// datagrams, so it is unit-tested and fuzzed without privileges.
//
// Our own writes do not count:
//  - rtnetlink notifications carry the requester's port id in nlmsg_pid; those of every
//    NetlinkSocket of this process are ignored (is_own_port_id in netlink/socket.h). Port id 0
//    is the kernel acting on its own (link down, address removal effects) and is never ours.
//  - libnftables writes through its own socket, so nf_tables events are held until the
//    NFT_MSG_NEWGEN that ends their transaction, and dropped when that NEWGEN came from a
//    netfilter socket this process holds (its nlmsg_pid is the committing socket's port id)
//    or its NFTA_GEN_PROC_PID is a live thread of this process (the kernel reports the
//    committing thread's id, not the process's, and in the initial pid namespace).
//
// Known blind spots (kernel behaviour, Linux 6.18): IPv6 address notifications always carry
// port id 0, so deleting one of our IPv6 addresses ourselves is reported like anyone's; link
// notifications carry port id 0 as well, so our own link changes are reported too. Both cost
// one repair that finds nothing to do, never a loop (adding an address or setting a link up
// again is not reported as a change of our state by anyone but the kernel). Netconf
// notifications (a forwarding or rp_filter sysctl changed) carry port id 0 too, and our own
// write of net.ipv4.ip_forward goes through /proc/sys, not netlink: it is reported like
// anyone's, and costs one repair that finds ip_forward already on and writes nothing
// (ensure_sysctl writes only a differing value, and the kernel notifies only a change).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netlink/socket.h"
#include "netlink/unique_fd.h"

namespace wgmesh::netlink {

// What wgmesh owns on this node.
struct OwnedScope {
    std::string interface;              // the mesh interface, by name
    std::uint8_t route_protocol = 150;  // rtm_protocol of our routes
    std::uint32_t route_table = 254;    // our routing table (main by default)
    std::string nft_table;              // our "inet" table ("wgmesh-wg0"); empty: not watched
};

// One drain()'s classified summary. Relevant means: changed by someone other than us.
struct KernelEvents {
    // Notifications were lost (ENOBUFS, a truncated datagram, a reopened socket): the caller
    // must do a full resync.
    bool overrun = false;
    // An owned route (our protocol, our table, through our interface) was deleted or changed,
    // a route in our table was replaced (NLM_F_REPLACE), or the kernel's prefix route of an
    // address on our interface was deleted by someone.
    bool routes = false;
    // An address on our interface (not IPv6 link-local) was deleted, or added or changed by
    // someone other than the kernel.
    bool addresses = false;
    // Our link was deleted, (re)created, renamed, or went down/up (IFF_UP, IFF_RUNNING,
    // IFF_LOWER_UP): the kernel drops routes on link down without a notification per route.
    bool link = false;
    // Something in our nft table (inet) changed; "flush ruleset" deletes it, so it counts.
    bool nft_table = false;
    // A rule was deleted from (or a chain created or deleted as) an "ip"/"ip6" "filter"
    // table's "FORWARD" chain, where our tagged accept lives (Docker's policy-drop chain).
    bool forward_accept = false;
    // A forwarding sysctl changed (RTM_NEWNETCONF/RTM_DELNETCONF): IPv4 or IPv6 forwarding
    // of "all" (net.ipv4.ip_forward is conf/all/forwarding) or of our interface, or rp_filter
    // of "all" or of our interface. The forwarding apply turns ip_forward back on.
    bool forwarding_sysctl = false;
    // Not owned state, only what the forwarding-path check reads: someone else changed a
    // table, chain or rule outside our table (any family; sets, their elements and stateful
    // objects do not count). The nf_tables events do not name a chain's hook, so every such
    // change may have touched a chain on the forward hook. Not counted in `relevant`.
    bool foreign_nft_rules = false;
    std::size_t messages = 0;  // notifications read
    std::size_t relevant = 0;  // of which touched owned state

    // Whether owned state may have changed (foreign_nft_rules does not count).
    bool any() const {
        return overrun || routes || addresses || link || nft_table || forward_accept ||
               forwarding_sysctl;
    }
    KernelEvents& operator|=(const KernelEvents& other);
};

// The scope with the interface resolved; the rtnetlink classifier keeps it current.
struct ResolvedScope {
    OwnedScope owned;
    int ifindex = 0;  // 0: the interface does not exist (then nothing is "on" it)
    // IFF_UP | IFF_RUNNING | IFF_LOWER_UP of the interface when last seen; nullopt: unknown.
    std::optional<unsigned> link_flags;
};

// Whether an rtnetlink requester's port id is ours (is_own_port_id).
using IdPredicate = std::function<bool(std::uint32_t)>;
// Whether the nf_tables transaction a NEWGEN ends was committed by us: `port_id` is the
// committing socket's (NEWGEN's nlmsg_pid), `pid` the committing thread's id
// (NFTA_GEN_PROC_PID; 0 when the kernel did not send it).
using TransactionPredicate = std::function<bool(std::uint32_t port_id, std::uint32_t pid)>;

// Classifies the rtnetlink notifications of one datagram (netconf ones too) into `events`.
// Link messages keep `scope` current (ifindex on re-creation or deletion, flags) even when
// they come from us.
// Any byte sequence is accepted: malformed messages are skipped, never trusted.
void classify_rtnetlink(std::span<const std::uint8_t> datagram, ResolvedScope& scope,
                        const IdPredicate& is_own_port, KernelEvents& events);

// nf_tables events of the transaction in progress, held until its NFT_MSG_NEWGEN.
struct NftTransaction {
    // Relevant messages seen since the last NEWGEN, by what they touch.
    std::size_t table = 0;           // our inet table
    std::size_t forward_accept = 0;  // a foreign FORWARD chain
    std::size_t foreign_rules = 0;   // a table, chain or rule outside our table
};

// Classifies the nf_tables notifications of one datagram into `events`; a transaction's
// relevant messages count once its NEWGEN arrives (the kernel sends the object events of a
// commit first, then NEWGEN: nf_tables_commit, verified on Linux 6.18), unless
// `is_own_transaction` says we committed it. Malformed messages are skipped.
void classify_nftables(std::span<const std::uint8_t> datagram, const OwnedScope& scope,
                       NftTransaction& transaction, const TransactionPredicate& is_own_transaction,
                       KernelEvents& events);

// Whether `pid` (as the kernel reports a committing task: a thread id, in the initial pid
// namespace) is a live thread of this process: getpid() or an entry of /proc/self/task.
bool is_own_thread(std::uint32_t pid);
// The port ids of the sockets of `protocol` this process holds in the calling thread's
// network namespace (/proc/thread-self/net/netlink matched to /proc/self/fd by inode).
std::vector<std::uint32_t> own_netlink_port_ids(int protocol);
// The monitor's TransactionPredicate: ours when `port_id` is a NETLINK_NETFILTER socket this
// process holds (libnftables' socket, alive as long as its context: exact, and independent of
// pid namespaces), or else when `pid` is a live thread of ours (a context already destroyed
// by a thread that still runs).
bool is_own_nft_transaction(std::uint32_t port_id, std::uint32_t pid);

class KernelMonitor {
  public:
    // Subscribes in the calling thread's network namespace, then resolves the interface
    // (which may not exist yet). receive_buffer_bytes: 0 for the default (4 MiB, forced with
    // SO_RCVBUFFORCE when we have CAP_NET_ADMIN, else SO_RCVBUF capped by rmem_max).
    // Throws std::system_error when a socket cannot be opened or subscribed.
    explicit KernelMonitor(OwnedScope scope, int receive_buffer_bytes = 0);
    ~KernelMonitor();
    KernelMonitor(const KernelMonitor&) = delete;
    KernelMonitor& operator=(const KernelMonitor&) = delete;

    // Readable (POLLIN) when drain() has something to read (an epoll fd over the sockets).
    int fd() const { return epoll_.get(); }

    // Reads what is pending (at most kMaxDatagramsPerDrain datagrams; the fd stays readable
    // when more is left) and never blocks. A socket that fails (other than ENOBUFS) is
    // reopened and reported as an overrun; after an overrun the interface is looked up again.
    // Must be called from a thread in the namespace the monitor was created in. Throws
    // std::system_error only when a failed socket cannot be reopened.
    KernelEvents drain();

    // The interface's index as last resolved (0 when it does not exist).
    int ifindex() const { return scope_.ifindex; }
    const OwnedScope& scope() const { return scope_.owned; }

    static constexpr int kDefaultReceiveBufferBytes = 4 * 1024 * 1024;
    static constexpr int kMaxDatagramsPerDrain = 4096;

  private:
    struct SocketCloser {
        void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
    };
    using Socket = std::unique_ptr<mnl_socket, SocketCloser>;

    Socket open_route_socket() const;
    Socket open_nftables_socket() const;
    void watch(const Socket& socket);
    // Reads one socket until EAGAIN; false when it failed and must be reopened.
    bool drain_socket(const Socket& socket, bool nftables, KernelEvents& events, int& datagrams);
    void resolve_interface();
    // Keeps the route socket's BPF filter dropping the echoes of our open NetlinkSockets
    // (netlink/echo_filter.h), so our own 10k-route writes neither fill its buffer nor cost
    // a read each.
    void refresh_echo_filter();

    ResolvedScope scope_;
    int receive_buffer_bytes_;
    UniqueFd epoll_;
    Socket route_;
    Socket nftables_;  // null when no nft table is watched
    NftTransaction transaction_;
    bool resolve_pending_ = false;
    std::optional<std::uint64_t> echo_filter_generation_;  // of the port ids filtered now
    std::vector<std::uint8_t> buffer_;
};

}  // namespace wgmesh::netlink
