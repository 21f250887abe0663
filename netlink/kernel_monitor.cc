#include "netlink/kernel_monitor.h"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/netconf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>

#include "netlink/echo_filter.h"

namespace wgmesh::netlink {

namespace {

// The link flags whose change means routes may have been dropped (IFF_UP) or the device
// stopped or resumed passing traffic.
constexpr unsigned kTrackedLinkFlags = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;

constexpr unsigned kRouteGroups[] = {RTNLGRP_IPV4_ROUTE,  RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_IFADDR,
                                     RTNLGRP_IPV6_IFADDR, RTNLGRP_LINK,       RTNLGRP_IPV4_NETCONF,
                                     RTNLGRP_IPV6_NETCONF};

// The kernel's datagrams are at most 32 KiB (netlink max_recvmsg_len) in practice; a larger
// one is truncated and reported as an overrun.
constexpr std::size_t kDatagramBytes = 32 * 1024;

// iptables-nft's table and chain, where NftForwarding puts its tagged accept.
constexpr std::string_view kFilterTable = "filter";
constexpr std::string_view kForwardChain = "FORWARD";

// Every nf_tables object message names its table in attribute 1.
constexpr std::uint16_t kObjectTableAttribute = 1;
static_assert(NFTA_TABLE_NAME == kObjectTableAttribute &&
              NFTA_CHAIN_TABLE == kObjectTableAttribute &&
              NFTA_RULE_TABLE == kObjectTableAttribute && NFTA_SET_TABLE == kObjectTableAttribute &&
              NFTA_SET_ELEM_LIST_TABLE == kObjectTableAttribute &&
              NFTA_OBJ_TABLE == kObjectTableAttribute &&
              NFTA_FLOWTABLE_TABLE == kObjectTableAttribute);

std::system_error monitor_error(int error, const std::string& what) {
    std::string text = "kernel monitor: ";
    text += what;
    return std::system_error(error, std::generic_category(), text);
}

// Calls on_message for every whole message of the datagram. The kernel's buffers are
// aligned; anything else (a fuzzer's input) is copied first.
template <typename Callback>
void for_each_message(std::span<const std::uint8_t> datagram, Callback&& on_message) {
    std::vector<std::uint32_t> aligned;
    const void* data = datagram.data();
    if (reinterpret_cast<std::uintptr_t>(data) % alignof(nlmsghdr) != 0) {
        aligned.resize((datagram.size() + 3) / 4);
        std::memcpy(aligned.data(), datagram.data(), datagram.size());
        data = aligned.data();
    }
    auto remaining = static_cast<int>(std::min<std::size_t>(datagram.size(), INT_MAX));
    for (auto* message = static_cast<const nlmsghdr*>(data); message_in_bounds(message, remaining);
         message = mnl_nlmsg_next(message, &remaining)) {
        on_message(*message);
    }
}

// Calls on_attribute for every well-formed attribute after the family header.
template <typename Callback>
void for_each_attribute(const nlmsghdr& message, std::size_t header_size, Callback&& on_attribute) {
    const std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(header_size);
    if (message.nlmsg_len < offset) {
        return;
    }
    auto remaining = static_cast<int>(message.nlmsg_len - offset);
    for (auto* a = reinterpret_cast<const nlattr*>(reinterpret_cast<const std::uint8_t*>(&message) +
                                                   offset);
         mnl_attr_ok(a, remaining);
         remaining -= static_cast<int>(NLA_ALIGN(a->nla_len)), a = mnl_attr_next(a)) {
        on_attribute(*a);
    }
}

const rtmsg* family_header_route(const nlmsghdr& message) {
    if (message.nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) {
        return nullptr;
    }
    return static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&message));
}

std::optional<std::string_view> string_attribute(const nlattr& attribute) {
    if (mnl_attr_validate(&attribute, MNL_TYPE_NUL_STRING) != 0) {
        return std::nullopt;
    }
    return std::string_view(mnl_attr_get_str(&attribute));
}

std::optional<std::uint32_t> u32_attribute(const nlattr& attribute) {
    if (mnl_attr_validate(&attribute, MNL_TYPE_U32) != 0) {
        return std::nullopt;
    }
    return mnl_attr_get_u32(&attribute);
}

bool is_ipv6_link_local(const void* bytes, std::size_t length) {
    const auto* b = static_cast<const std::uint8_t*>(bytes);
    return length == 16 && b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

// Whether a route notification touches what we own. `pid` is the requester (0: the kernel).
bool route_relevant(const nlmsghdr& message, const ResolvedScope& scope) {
    const rtmsg* header = family_header_route(message);
    if (header == nullptr || (header->rtm_family != AF_INET && header->rtm_family != AF_INET6) ||
        (header->rtm_flags & RTM_F_CLONED) != 0) {
        return false;
    }
    std::uint32_t table = header->rtm_table;
    int oif = 0;
    bool link_local_destination = false;
    for_each_attribute(message, sizeof(rtmsg), [&](const nlattr& a) {
        switch (mnl_attr_get_type(&a)) {
            case RTA_TABLE:
                table = u32_attribute(a).value_or(table);
                break;
            case RTA_OIF:
                oif = static_cast<int>(u32_attribute(a).value_or(0));
                break;
            case RTA_DST:
                link_local_destination =
                    is_ipv6_link_local(mnl_attr_get_payload(&a), mnl_attr_get_payload_len(&a));
                break;
            default:
                break;
        }
    });
    const OwnedScope& owned = scope.owned;
    const bool on_our_link = scope.ifindex != 0 && oif == scope.ifindex;
    if (header->rtm_protocol == owned.route_protocol && table == owned.route_table && on_our_link) {
        return true;  // one of ours, added, replaced or deleted by someone else
    }
    const bool by_someone = message.nlmsg_pid != 0;
    if (message.nlmsg_type == RTM_NEWROUTE) {
        // A replace rewrites the route with the same key whatever its protocol and device,
        // and the kernel sends no RTM_DELROUTE for what it replaced.
        return by_someone && (message.nlmsg_flags & NLM_F_REPLACE) != 0 &&
               table == owned.route_table;
    }
    // The kernel deletes an address's prefix route itself (port id 0) when the address goes;
    // the address event tells that. Someone deleting it while the address stays is ours to
    // repair (restore_prefix_routes).
    return by_someone && header->rtm_protocol == RTPROT_KERNEL && table == RT_TABLE_MAIN &&
           header->rtm_type == RTN_UNICAST && on_our_link && !link_local_destination;
}

bool address_relevant(const nlmsghdr& message, const ResolvedScope& scope) {
    if (message.nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) {
        return false;
    }
    const auto& header = *static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(&message));
    if ((header.ifa_family != AF_INET && header.ifa_family != AF_INET6) || scope.ifindex == 0 ||
        static_cast<int>(header.ifa_index) != scope.ifindex) {
        return false;
    }
    bool link_local = false;
    for_each_attribute(message, sizeof(ifaddrmsg), [&](const nlattr& a) {
        const auto type = mnl_attr_get_type(&a);
        if (type == IFA_ADDRESS || type == IFA_LOCAL) {
            link_local |=
                is_ipv6_link_local(mnl_attr_get_payload(&a), mnl_attr_get_payload_len(&a));
        }
    });
    if (link_local) {
        return false;  // made by the kernel for the link; nobody here owns it (address.h)
    }
    // A deletion counts whoever did it. Additions and changes by the kernel itself (IPv6 DAD
    // completing, lifetimes) are not someone changing our address.
    return message.nlmsg_type == RTM_DELADDR || message.nlmsg_pid != 0;
}

// Keeps scope.ifindex and scope.link_flags current; returns whether our link changed.
bool link_changed(const nlmsghdr& message, ResolvedScope& scope) {
    if (message.nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) {
        return false;
    }
    const auto& header = *static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&message));
    if (header.ifi_family != AF_UNSPEC || header.ifi_index <= 0) {
        return false;  // per-protocol link information (AF_INET6, AF_BRIDGE), not the link
    }
    std::optional<std::string_view> name;
    for_each_attribute(message, sizeof(ifinfomsg), [&](const nlattr& a) {
        if (mnl_attr_get_type(&a) == IFLA_IFNAME) {
            name = string_attribute(a);
        }
    });
    const bool ours = header.ifi_index == scope.ifindex;
    const unsigned flags = header.ifi_flags & kTrackedLinkFlags;
    if (message.nlmsg_type == RTM_DELLINK) {
        if (!ours) {
            return false;
        }
        scope.ifindex = 0;
        scope.link_flags.reset();
        return true;
    }
    if (ours && name && *name != scope.owned.interface) {
        scope.ifindex = 0;  // renamed away: our name no longer exists
        scope.link_flags.reset();
        return true;
    }
    if (ours) {
        const bool changed = scope.link_flags ? *scope.link_flags != flags
                                              : (header.ifi_change & kTrackedLinkFlags) != 0;
        scope.link_flags = flags;
        return changed;
    }
    if (name && *name == scope.owned.interface) {
        scope.ifindex = header.ifi_index;  // created, re-created or renamed to our name
        scope.link_flags = flags;
        return true;
    }
    return false;
}

// Whether a netconf notification reports a forwarding or rp_filter change of "all" or of our
// interface. The kernel sends one per changed setting and device (writing ip_forward sends
// "all", "default" and every device), carrying NETCONFA_IFINDEX and the changed attribute;
// a device's (re)registration sends all of them. RTM_DELNETCONF carries the index alone:
// our interface's removal is a link event. Every attribute read must be exactly one 32-bit
// value, else the whole message is ignored.
bool netconf_relevant(const nlmsghdr& message, const ResolvedScope& scope) {
    if (message.nlmsg_len < NLMSG_LENGTH(sizeof(netconfmsg))) {
        return false;
    }
    const auto& header = *static_cast<const netconfmsg*>(mnl_nlmsg_get_payload(&message));
    if (header.ncm_family != AF_INET && header.ncm_family != AF_INET6) {
        return false;
    }
    std::optional<std::int32_t> ifindex;
    bool sysctl_changed = false;
    bool malformed = false;
    for_each_attribute(message, sizeof(netconfmsg), [&](const nlattr& a) {
        const auto type = mnl_attr_get_type(&a);
        if (type != NETCONFA_IFINDEX && type != NETCONFA_FORWARDING && type != NETCONFA_RP_FILTER) {
            return;
        }
        // Exactly four bytes (mnl_attr_validate accepts longer payloads).
        if (mnl_attr_get_payload_len(&a) != sizeof(std::int32_t)) {
            malformed = true;
        } else if (type == NETCONFA_IFINDEX) {
            ifindex = static_cast<std::int32_t>(mnl_attr_get_u32(&a));
        } else {
            sysctl_changed = true;
        }
    });
    if (malformed || !ifindex || !sysctl_changed) {
        return false;
    }
    return *ifindex == NETCONFA_IFINDEX_ALL || (scope.ifindex != 0 && *ifindex == scope.ifindex);
}

// Tables, chains and rules decide verdicts on the forward hook; sets, their elements,
// stateful objects and flowtables change far more often (a blocklist) and are not looked at.
bool nft_ruleset_message(std::uint8_t type) {
    switch (type) {
        case NFT_MSG_NEWTABLE:
        case NFT_MSG_DELTABLE:
        case NFT_MSG_NEWCHAIN:
        case NFT_MSG_DELCHAIN:
        case NFT_MSG_NEWRULE:
        case NFT_MSG_DELRULE:
            return true;
        default:
            return false;
    }
}

bool nft_object_message(std::uint8_t type) {
    if (nft_ruleset_message(type)) {
        return true;
    }
    switch (type) {
        case NFT_MSG_NEWSET:
        case NFT_MSG_DELSET:
        case NFT_MSG_NEWSETELEM:
        case NFT_MSG_DELSETELEM:
        case NFT_MSG_NEWOBJ:
        case NFT_MSG_DELOBJ:
        case NFT_MSG_NEWFLOWTABLE:
        case NFT_MSG_DELFLOWTABLE:
            return true;
        default:
            return false;
    }
}

// kForeignRules: a table, chain or rule outside our table, not where our accept lives.
enum class NftTouch { kNothing, kTable, kForwardAccept, kForeignRules };

NftTouch nft_message_touch(const nlmsghdr& message, std::uint8_t type, std::uint8_t family,
                           const OwnedScope& scope) {
    if (!nft_object_message(type)) {
        return NftTouch::kNothing;
    }
    // The chain's name travels in NFTA_CHAIN_NAME for chains, NFTA_RULE_CHAIN for rules.
    const std::uint16_t chain_attribute =
        type == NFT_MSG_NEWCHAIN || type == NFT_MSG_DELCHAIN ? std::uint16_t{NFTA_CHAIN_NAME}
        : type == NFT_MSG_NEWRULE || type == NFT_MSG_DELRULE ? std::uint16_t{NFTA_RULE_CHAIN}
                                                             : std::uint16_t{0};
    std::optional<std::string_view> table, chain;
    for_each_attribute(message, sizeof(nfgenmsg), [&](const nlattr& a) {
        const auto attribute = mnl_attr_get_type(&a);
        if (attribute == kObjectTableAttribute) {
            table = string_attribute(a);
        } else if (chain_attribute != 0 && attribute == chain_attribute) {
            chain = string_attribute(a);
        }
    });
    if (!table) {
        return NftTouch::kNothing;
    }
    if (family == NFPROTO_INET && !scope.nft_table.empty() && *table == scope.nft_table) {
        return NftTouch::kTable;
    }
    // Where our tagged accept lives: a rule deleted there may be ours (the notification does
    // not say whose), and a FORWARD chain created or deleted needs the accept (re)considered.
    if ((family == NFPROTO_IPV4 || family == NFPROTO_IPV6) && *table == kFilterTable &&
        chain == kForwardChain &&
        (type == NFT_MSG_DELRULE || type == NFT_MSG_NEWCHAIN || type == NFT_MSG_DELCHAIN)) {
        return NftTouch::kForwardAccept;
    }
    return nft_ruleset_message(type) ? NftTouch::kForeignRules : NftTouch::kNothing;
}

std::optional<std::uint32_t> generation_pid(const nlmsghdr& message) {
    std::optional<std::uint32_t> pid;
    for_each_attribute(message, sizeof(nfgenmsg), [&](const nlattr& a) {
        if (mnl_attr_get_type(&a) == NFTA_GEN_PROC_PID) {
            if (auto value = u32_attribute(a)) {
                pid = ntohl(*value);
            }
        }
    });
    return pid;
}

void set_receive_buffer(int fd, int bytes) {
    // Forcing needs CAP_NET_ADMIN; without it the kernel caps SO_RCVBUF at rmem_max.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    }
}

}  // namespace

KernelEvents& KernelEvents::operator|=(const KernelEvents& other) {
    overrun |= other.overrun;
    routes |= other.routes;
    addresses |= other.addresses;
    link |= other.link;
    nft_table |= other.nft_table;
    forward_accept |= other.forward_accept;
    forwarding_sysctl |= other.forwarding_sysctl;
    foreign_nft_rules |= other.foreign_nft_rules;
    messages += other.messages;
    relevant += other.relevant;
    return *this;
}

void classify_rtnetlink(std::span<const std::uint8_t> datagram, ResolvedScope& scope,
                        const IdPredicate& is_own_port, KernelEvents& events) {
    for_each_message(datagram, [&](const nlmsghdr& message) {
        if (message.nlmsg_type < NLMSG_MIN_TYPE) {
            return;  // NOOP, ERROR, DONE, OVERRUN: not notifications
        }
        ++events.messages;
        const bool own = message.nlmsg_pid != 0 && is_own_port && is_own_port(message.nlmsg_pid);
        bool* category = nullptr;
        bool relevant = false;
        switch (message.nlmsg_type) {
            case RTM_NEWROUTE:
            case RTM_DELROUTE:
                category = &events.routes;
                relevant = route_relevant(message, scope);
                break;
            case RTM_NEWADDR:
            case RTM_DELADDR:
                category = &events.addresses;
                relevant = address_relevant(message, scope);
                break;
            case RTM_NEWLINK:
            case RTM_DELLINK:
                category = &events.link;
                relevant = link_changed(message, scope);  // updates the scope even when own
                break;
            case RTM_NEWNETCONF:
            case RTM_DELNETCONF:
                category = &events.forwarding_sysctl;
                relevant = netconf_relevant(message, scope);
                break;
            default:
                return;
        }
        if (relevant && !own) {
            *category = true;
            ++events.relevant;
        }
    });
}

void classify_nftables(std::span<const std::uint8_t> datagram, const OwnedScope& scope,
                       NftTransaction& transaction, const TransactionPredicate& is_own_transaction,
                       KernelEvents& events) {
    for_each_message(datagram, [&](const nlmsghdr& message) {
        if ((message.nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES ||
            message.nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) {
            return;
        }
        ++events.messages;
        const auto type = static_cast<std::uint8_t>(message.nlmsg_type & 0xff);
        const auto& header = *static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(&message));
        if (type == NFT_MSG_NEWGEN) {
            // Ends a transaction: the kernel sends its object events first, then this
            // (nf_tables_commit, verified on Linux 6.18). Ownership is only looked up when
            // it matters.
            if (transaction.table + transaction.forward_accept + transaction.foreign_rules > 0 &&
                !(is_own_transaction &&
                  is_own_transaction(message.nlmsg_pid, generation_pid(message).value_or(0)))) {
                events.nft_table |= transaction.table > 0;
                events.forward_accept |= transaction.forward_accept > 0;
                // Our accept's chain is a foreign chain on the forward hook as well.
                events.foreign_nft_rules |=
                    transaction.forward_accept + transaction.foreign_rules > 0;
                events.relevant += transaction.table + transaction.forward_accept;
            }
            transaction = {};
            return;
        }
        switch (nft_message_touch(message, type, header.nfgen_family, scope)) {
            case NftTouch::kTable:
                ++transaction.table;
                break;
            case NftTouch::kForwardAccept:
                ++transaction.forward_accept;
                break;
            case NftTouch::kForeignRules:
                ++transaction.foreign_rules;
                break;
            case NftTouch::kNothing:
                break;
        }
    });
}

std::vector<std::uint32_t> own_netlink_port_ids(int protocol) {
    std::set<unsigned long> inodes;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
        const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
        unsigned long inode = 0;
        if (!error && std::sscanf(target.c_str(), "socket:[%lu]", &inode) == 1) {
            inodes.insert(inode);
        }
    }
    std::vector<std::uint32_t> ports;
    std::ifstream table("/proc/thread-self/net/netlink");
    std::string line;
    std::getline(table, line);  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    while (std::getline(table, line)) {
        std::istringstream fields(line);
        std::string sk, groups, rmem, wmem, dump, locks, drops;
        int eth = -1;
        std::uint32_t port = 0;
        unsigned long inode = 0;
        if (fields >> sk >> eth >> port >> groups >> rmem >> wmem >> dump >> locks >> drops >>
                inode &&
            eth == protocol && port != 0 && inodes.contains(inode)) {
            ports.push_back(port);
        }
    }
    return ports;
}

bool is_own_nft_transaction(std::uint32_t port_id, std::uint32_t pid) {
    if (port_id != 0) {
        const auto ports = own_netlink_port_ids(NETLINK_NETFILTER);
        if (std::find(ports.begin(), ports.end(), port_id) != ports.end()) {
            return true;
        }
    }
    return is_own_thread(pid);
}

bool is_own_thread(std::uint32_t pid) {
    if (pid == 0) {
        return false;
    }
    if (pid == static_cast<std::uint32_t>(::getpid())) {
        return true;
    }
    std::string path = "/proc/self/task/";
    path += std::to_string(pid);
    return ::access(path.c_str(), F_OK) == 0;
}

KernelMonitor::KernelMonitor(OwnedScope scope, int receive_buffer_bytes)
    : receive_buffer_bytes_(receive_buffer_bytes > 0 ? receive_buffer_bytes
                                                     : kDefaultReceiveBufferBytes),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      buffer_(kDatagramBytes) {
    scope_.owned = std::move(scope);
    if (!epoll_) {
        throw monitor_error(errno, "cannot create an epoll fd");
    }
    route_ = open_route_socket();
    watch(route_);
    refresh_echo_filter();
    if (!scope_.owned.nft_table.empty()) {
        nftables_ = open_nftables_socket();
        watch(nftables_);
    }
    // After subscribing, so a change between the lookup and the first drain is not lost.
    resolve_interface();
}

KernelMonitor::~KernelMonitor() = default;

KernelMonitor::Socket KernelMonitor::open_route_socket() const {
    Socket socket(mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!socket) {
        throw monitor_error(errno, "cannot open a NETLINK_ROUTE socket");
    }
    set_receive_buffer(mnl_socket_get_fd(socket.get()), receive_buffer_bytes_);
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) != 0) {
        throw monitor_error(errno, "cannot bind the NETLINK_ROUTE socket");
    }
    for (unsigned group : kRouteGroups) {
        if (mnl_socket_setsockopt(socket.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) !=
            0) {
            throw monitor_error(errno, "cannot join rtnetlink group " + std::to_string(group));
        }
    }
    return socket;
}

KernelMonitor::Socket KernelMonitor::open_nftables_socket() const {
    Socket socket(mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!socket) {
        throw monitor_error(errno, "cannot open a NETLINK_NETFILTER socket");
    }
    set_receive_buffer(mnl_socket_get_fd(socket.get()), receive_buffer_bytes_);
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) != 0) {
        throw monitor_error(errno, "cannot bind the NETLINK_NETFILTER socket");
    }
    unsigned group = NFNLGRP_NFTABLES;
    if (mnl_socket_setsockopt(socket.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) {
        throw monitor_error(errno, "cannot join the nf_tables event group");
    }
    return socket;
}

void KernelMonitor::watch(const Socket& socket) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = mnl_socket_get_fd(socket.get());
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, event.data.fd, &event) != 0) {
        throw monitor_error(errno, "cannot add a netlink socket to the epoll fd");
    }
}

void KernelMonitor::resolve_interface() {
    resolve_pending_ = false;
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
    request->nlmsg_type = RTM_GETLINK;
    mnl_nlmsg_put_extra_header(request, sizeof(ifinfomsg));
    mnl_attr_put_strz(request, IFLA_IFNAME, scope_.owned.interface.c_str());
    ResolvedScope found;
    found.owned = scope_.owned;
    NetlinkStatus status;
    try {
        // The reply is an RTM_NEWLINK like a notification: the classifier resolves it.
        // A socket of its own for the few lookups: the monitor holds no idle buffers.
        NetlinkSocket query(NETLINK_ROUTE);
        status = query.request(*request, [&](const nlmsghdr& reply) {
            KernelEvents ignored;
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(&reply);
            classify_rtnetlink({bytes, reply.nlmsg_len}, found, {}, ignored);
        });
    } catch (const std::system_error&) {
        resolve_pending_ = true;  // tried again at the next drain; the caller resyncs anyway
        return;
    }
    if (status.ok() || status.error == ENODEV) {
        scope_.ifindex = status.ok() ? found.ifindex : 0;
        scope_.link_flags = status.ok() ? found.link_flags : std::nullopt;
    } else {
        resolve_pending_ = true;
    }
}

bool KernelMonitor::drain_socket(const Socket& socket, bool nftables, KernelEvents& events,
                                 int& datagrams) {
    const int fd = mnl_socket_get_fd(socket.get());
    while (datagrams < kMaxDatagramsPerDrain) {
        sockaddr_nl source{};
        socklen_t source_length = sizeof(source);
        const ssize_t length =
            ::recvfrom(fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC,
                       reinterpret_cast<sockaddr*>(&source), &source_length);
        if (length < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return true;
            }
            if (errno == ENOBUFS) {
                events.overrun = true;  // the socket stays usable; what was lost is unknown
                continue;
            }
            return false;
        }
        ++datagrams;
        if (static_cast<std::size_t>(length) > buffer_.size()) {
            events.overrun = true;  // truncated: the rest of the datagram is lost
            continue;
        }
        if (source.nl_pid != 0) {
            continue;  // notifications come from the kernel only
        }
        const std::span<const std::uint8_t> datagram(buffer_.data(),
                                                     static_cast<std::size_t>(length));
        if (nftables) {
            classify_nftables(datagram, scope_.owned, transaction_, is_own_nft_transaction, events);
        } else {
            classify_rtnetlink(
                datagram, scope_,
                [](std::uint32_t port) { return is_own_port_id(port, NETLINK_ROUTE); }, events);
        }
    }
    return true;
}

void KernelMonitor::refresh_echo_filter() {
    if (echo_filter_generation_ == open_port_ids_generation()) {
        return;
    }
    auto own = open_port_ids(NETLINK_ROUTE);
    try {
        drop_echoes_of(mnl_socket_get_fd(route_.get()), own.port_ids);
    } catch (const std::system_error&) {
        // Without the filter the echoes are read and recognised by their port id instead.
    }
    echo_filter_generation_ = own.generation;
}

KernelEvents KernelMonitor::drain() {
    KernelEvents events;
    int datagrams = 0;
    if (!drain_socket(route_, false, events, datagrams)) {
        route_ = open_route_socket();  // the old fd leaves the epoll set when it closes
        watch(route_);
        echo_filter_generation_.reset();
        events.overrun = true;
    }
    // For the writes that follow this drain: sockets opened since the last one are added.
    refresh_echo_filter();
    if (nftables_ && !drain_socket(nftables_, true, events, datagrams)) {
        nftables_ = open_nftables_socket();
        watch(nftables_);
        events.overrun = true;
    }
    if (events.overrun) {
        // A transaction's events may be gone; and our link may have changed unseen.
        transaction_ = {};
        resolve_interface();
    } else if (resolve_pending_) {
        resolve_interface();
    }
    return events;
}

}  // namespace wgmesh::netlink
