// The kernel monitor's classifiers over hand-built notifications, as the kernel sends them
// (layouts checked against Linux 6.18), and the port-id registry they rely on.
#include "netlink/kernel_monitor.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/netconf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace wgmesh::netlink {
namespace {

constexpr int kOurIndex = 7;
constexpr std::uint32_t kSomeone = 4242;  // a foreign requester's port id / pid
constexpr unsigned kUpFlags = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;

// Messages appended back to back, as in one datagram.
class Datagram {
  public:
    Datagram() : storage_(16384) {}

    nlmsghdr* add(std::uint16_t type, std::uint16_t flags, std::uint32_t pid,
                  std::size_t header_size, void** header) {
        auto* message = mnl_nlmsg_put_header(bytes() + end_);
        message->nlmsg_type = type;
        message->nlmsg_flags = flags;
        message->nlmsg_pid = pid;
        *header = mnl_nlmsg_put_extra_header(message, header_size);
        last_ = end_;
        return message;
    }
    // Call after the attributes of the message add() returned.
    void seal() { end_ += NLMSG_ALIGN(reinterpret_cast<nlmsghdr*>(bytes() + last_)->nlmsg_len); }
    std::span<const std::uint8_t> span() const {
        return {reinterpret_cast<const std::uint8_t*>(storage_.data()), end_};
    }

  private:
    std::uint8_t* bytes() { return reinterpret_cast<std::uint8_t*>(storage_.data()); }
    std::vector<std::uint32_t> storage_;
    std::size_t end_ = 0;
    std::size_t last_ = 0;
};

struct RouteSpec {
    std::uint16_t type = RTM_DELROUTE;
    std::uint16_t flags = 0;
    std::uint32_t pid = kSomeone;
    std::uint8_t family = AF_INET;
    std::uint8_t protocol = 150;
    std::uint32_t table = RT_TABLE_MAIN;
    int oif = kOurIndex;
    std::uint8_t route_type = RTN_UNICAST;
    std::vector<std::uint8_t> destination = {10, 9, 0, 0};
    std::uint8_t prefix = 24;
};

void add_route(Datagram& d, const RouteSpec& spec) {
    void* extra = nullptr;
    nlmsghdr* message = d.add(spec.type, spec.flags, spec.pid, sizeof(rtmsg), &extra);
    auto* header = static_cast<rtmsg*>(extra);
    header->rtm_family = spec.family;
    header->rtm_dst_len = spec.prefix;
    header->rtm_protocol = spec.protocol;
    header->rtm_table =
        spec.table < 256 ? static_cast<std::uint8_t>(spec.table) : std::uint8_t{RT_TABLE_COMPAT};
    header->rtm_type = spec.route_type;
    mnl_attr_put_u32(message, RTA_TABLE, spec.table);
    mnl_attr_put(message, RTA_DST, spec.destination.size(), spec.destination.data());
    if (spec.oif != 0) {
        mnl_attr_put_u32(message, RTA_OIF, static_cast<std::uint32_t>(spec.oif));
    }
    d.seal();
}

void add_address(Datagram& d, std::uint16_t type, std::uint32_t pid, int index,
                 std::vector<std::uint8_t> address, std::uint8_t prefix = 16) {
    void* extra = nullptr;
    nlmsghdr* message = d.add(type, 0, pid, sizeof(ifaddrmsg), &extra);
    auto* header = static_cast<ifaddrmsg*>(extra);
    header->ifa_family = address.size() == 4 ? AF_INET : AF_INET6;
    header->ifa_prefixlen = prefix;
    header->ifa_index = static_cast<std::uint32_t>(index);
    mnl_attr_put(message, IFA_ADDRESS, address.size(), address.data());
    if (address.size() == 4) {
        mnl_attr_put(message, IFA_LOCAL, address.size(), address.data());
    }
    d.seal();
}

void add_link(Datagram& d, std::uint16_t type, int index, const std::string& name, unsigned flags,
              unsigned change = 0, std::uint32_t pid = 0) {
    void* extra = nullptr;
    nlmsghdr* message = d.add(type, 0, pid, sizeof(ifinfomsg), &extra);
    auto* header = static_cast<ifinfomsg*>(extra);
    header->ifi_family = AF_UNSPEC;
    header->ifi_index = index;
    header->ifi_flags = flags;
    header->ifi_change = change;
    mnl_attr_put_strz(message, IFLA_IFNAME, name.c_str());
    d.seal();
}

// An nf_tables object event: table (and chain for chains and rules).
void add_nft(Datagram& d, std::uint8_t type, std::uint8_t family, const std::string& table,
             const std::string& chain = "", std::uint32_t port = kSomeone) {
    void* extra = nullptr;
    nlmsghdr* message = d.add(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type), 0,
                              port, sizeof(nfgenmsg), &extra);
    static_cast<nfgenmsg*>(extra)->nfgen_family = family;
    mnl_attr_put_strz(message, 1, table.c_str());
    if (!chain.empty()) {
        const bool rule = type == NFT_MSG_NEWRULE || type == NFT_MSG_DELRULE;
        mnl_attr_put_strz(message,
                          rule ? std::uint16_t{NFTA_RULE_CHAIN} : std::uint16_t{NFTA_CHAIN_NAME},
                          chain.c_str());
    }
    d.seal();
}

// NEWGEN as the kernel sends it: nlmsg_pid is the committing socket's port id.
void add_generation(Datagram& d, std::uint32_t pid, std::uint32_t port = kSomeone) {
    void* extra = nullptr;
    nlmsghdr* message =
        d.add(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN), 0, port,
              sizeof(nfgenmsg), &extra);
    mnl_attr_put_u32(message, NFTA_GEN_ID, htonl(12));
    mnl_attr_put_u32(message, NFTA_GEN_PROC_PID, htonl(pid));
    mnl_attr_put_strz(message, NFTA_GEN_PROC_NAME, "nft");
    d.seal();
}

// A netconf notification as the kernel sends it for one changed setting: the device's index
// and the setting (inet_netconf_notify_devconf); pid 0, as always.
void add_netconf(Datagram& d, std::uint8_t family, int index, std::uint16_t setting,
                 std::uint16_t type = RTM_NEWNETCONF) {
    void* extra = nullptr;
    nlmsghdr* message = d.add(type, 0, 0, sizeof(netconfmsg), &extra);
    static_cast<netconfmsg*>(extra)->ncm_family = family;
    mnl_attr_put_u32(message, NETCONFA_IFINDEX, static_cast<std::uint32_t>(index));
    if (setting != 0) {
        mnl_attr_put_u32(message, setting, 0);
    }
    d.seal();
}

ResolvedScope scope(std::uint32_t table = RT_TABLE_MAIN) {
    ResolvedScope s;
    s.owned = OwnedScope{"w0", 150, table, "wgmesh-w0"};
    s.ifindex = kOurIndex;
    s.link_flags = kUpFlags;
    return s;
}

bool nobody_is_us(std::uint32_t) {
    return false;
}

bool no_transaction_is_ours(std::uint32_t, std::uint32_t) {
    return false;
}

KernelEvents rt(const Datagram& d, ResolvedScope& s, const IdPredicate& own = nobody_is_us) {
    KernelEvents events;
    classify_rtnetlink(d.span(), s, own, events);
    return events;
}

KernelEvents rt(const Datagram& d) {
    ResolvedScope s = scope();
    return rt(d, s);
}

KernelEvents nft(const Datagram& d, NftTransaction& transaction,
                 const TransactionPredicate& own = no_transaction_is_ours) {
    KernelEvents events;
    classify_nftables(d.span(), scope().owned, transaction, own, events);
    return events;
}

KernelEvents nft(const Datagram& d) {
    NftTransaction transaction;
    return nft(d, transaction);
}

TEST(KernelMonitorClassify, OwnedRouteDeletedOrChangedBySomeone) {
    for (const std::uint16_t type : {RTM_DELROUTE, RTM_NEWROUTE}) {
        Datagram d;
        add_route(d, {.type = type});
        add_route(d, {.type = type,
                      .family = AF_INET6,
                      .destination = std::vector<std::uint8_t>(16, 0xfd),
                      .prefix = 64});
        const auto events = rt(d);
        EXPECT_TRUE(events.routes);
        EXPECT_EQ(events.relevant, 2u);
        EXPECT_EQ(events.messages, 2u);
        EXPECT_FALSE(events.addresses || events.link || events.nft_table || events.forward_accept ||
                     events.overrun);
        EXPECT_TRUE(events.any());
    }
}

TEST(KernelMonitorClassify, ForeignRoutesAreNotRelevant) {
    Datagram d;
    add_route(d, {.protocol = RTPROT_STATIC});            // another protocol
    add_route(d, {.oif = kOurIndex + 1});                 // another interface
    add_route(d, {.table = 1000});                        // another table
    add_route(d, {.type = RTM_NEWROUTE, .protocol = 4});  // foreign add on our interface
    add_route(d, {.protocol = RTPROT_KERNEL, .oif = 3});  // a prefix route elsewhere
    add_route(d, {.type = RTM_NEWROUTE, .flags = NLM_F_REPLACE, .table = 1000});
    const auto events = rt(d);
    EXPECT_EQ(events.messages, 6u);
    EXPECT_EQ(events.relevant, 0u);
    EXPECT_FALSE(events.any());
}

TEST(KernelMonitorClassify, TableAboveTwoFiftyFiveComesFromRtaTable) {
    Datagram d;
    add_route(d, {.table = 1000});
    ResolvedScope s = scope(1000);
    EXPECT_TRUE(rt(d, s).routes);
    ResolvedScope main = scope();
    EXPECT_FALSE(rt(d, main).routes);
}

TEST(KernelMonitorClassify, OwnPortIdIsIgnoredButKernelPortIdNeverIs) {
    const IdPredicate everyone_is_us = [](std::uint32_t) { return true; };
    Datagram ours;
    add_route(ours, {});
    ResolvedScope s = scope();
    auto events = rt(ours, s, [](std::uint32_t port) { return port == kSomeone; });
    EXPECT_FALSE(events.routes);
    EXPECT_EQ(events.messages, 1u);
    EXPECT_EQ(events.relevant, 0u);

    Datagram kernel;
    add_route(kernel, {.pid = 0});  // e.g. IPv6 routes flushed by a link going down
    EXPECT_TRUE(rt(kernel, s, everyone_is_us).routes);
}

TEST(KernelMonitorClassify, KernelPrefixRouteDeletedBySomeoneButNotByTheKernel) {
    Datagram flushed;
    add_route(flushed, {.protocol = RTPROT_KERNEL, .destination = {10, 5, 0, 0}, .prefix = 16});
    EXPECT_TRUE(rt(flushed).routes);

    Datagram address_removed;  // the kernel's own cleanup after an address went
    add_route(address_removed,
              {.pid = 0, .protocol = RTPROT_KERNEL, .destination = {10, 5, 0, 0}, .prefix = 16});
    EXPECT_FALSE(rt(address_removed).any());

    Datagram link_local;
    std::vector<std::uint8_t> fe80(16, 0);
    fe80[0] = 0xfe;
    fe80[1] = 0x80;
    add_route(link_local,
              {.family = AF_INET6, .protocol = RTPROT_KERNEL, .destination = fe80, .prefix = 64});
    EXPECT_FALSE(rt(link_local).any());

    Datagram local_table;
    add_route(local_table, {.protocol = RTPROT_KERNEL,
                            .table = RT_TABLE_LOCAL,
                            .route_type = RTN_LOCAL,
                            .prefix = 32});
    EXPECT_FALSE(rt(local_table).any());
}

TEST(KernelMonitorClassify, ReplaceInOurTableMayHaveReplacedOurs) {
    Datagram d;
    add_route(d,
              {.type = RTM_NEWROUTE, .flags = NLM_F_REPLACE, .protocol = RTPROT_STATIC, .oif = 3});
    EXPECT_TRUE(rt(d).routes);
}

TEST(KernelMonitorClassify, AddressesOnOurInterface) {
    Datagram deleted;
    add_address(deleted, RTM_DELADDR, kSomeone, kOurIndex, {10, 5, 0, 1});
    add_address(deleted, RTM_DELADDR, 0, kOurIndex, std::vector<std::uint8_t>(16, 0xfd), 64);
    auto events = rt(deleted);
    EXPECT_TRUE(events.addresses);
    EXPECT_EQ(events.relevant, 2u);
    EXPECT_FALSE(events.routes || events.link);

    Datagram changed;
    add_address(changed, RTM_NEWADDR, kSomeone, kOurIndex, {10, 5, 0, 1});
    EXPECT_TRUE(rt(changed).addresses);

    Datagram not_ours;
    add_address(not_ours, RTM_DELADDR, kSomeone, kOurIndex + 1, {10, 6, 0, 1});
    std::vector<std::uint8_t> fe80(16, 1);
    fe80[0] = 0xfe;
    fe80[1] = 0x80;
    add_address(not_ours, RTM_DELADDR, 0, kOurIndex, fe80, 64);  // link-local: the kernel's
    add_address(not_ours, RTM_NEWADDR, 0, kOurIndex, std::vector<std::uint8_t>(16, 0xfd), 64);
    events = rt(not_ours);
    EXPECT_EQ(events.messages, 3u);
    EXPECT_FALSE(events.any());

    Datagram own;
    add_address(own, RTM_DELADDR, kSomeone, kOurIndex, {10, 5, 0, 1});
    ResolvedScope s = scope();
    EXPECT_FALSE(rt(own, s, [](std::uint32_t p) { return p == kSomeone; }).any());
}

TEST(KernelMonitorClassify, LinkDownAndUp) {
    ResolvedScope s = scope();
    Datagram down;
    add_link(down, RTM_NEWLINK, kOurIndex, "w0", IFF_BROADCAST, IFF_UP);
    auto events = rt(down, s);
    EXPECT_TRUE(events.link);
    EXPECT_EQ(s.link_flags, 0u);

    Datagram still_down;  // e.g. an MTU change: nothing we track changed
    add_link(still_down, RTM_NEWLINK, kOurIndex, "w0", IFF_BROADCAST, 0);
    EXPECT_FALSE(rt(still_down, s).any());

    Datagram up;
    add_link(up, RTM_NEWLINK, kOurIndex, "w0", kUpFlags, IFF_UP);
    EXPECT_TRUE(rt(up, s).link);
    EXPECT_EQ(s.link_flags, kUpFlags);

    Datagram carrier;  // linkwatch reports carrier changes with ifi_change 0
    add_link(carrier, RTM_NEWLINK, kOurIndex, "w0", IFF_UP, 0);
    EXPECT_TRUE(rt(carrier, s).link);

    Datagram other;
    add_link(other, RTM_NEWLINK, kOurIndex + 1, "o0", 0, IFF_UP);
    add_link(other, RTM_DELLINK, kOurIndex + 1, "o0", 0);
    EXPECT_FALSE(rt(other, s).any());
    EXPECT_EQ(s.ifindex, kOurIndex);
}

TEST(KernelMonitorClassify, LinkDeletedRecreatedAndRenamedFollowsTheName) {
    ResolvedScope s = scope();
    Datagram deleted;
    add_link(deleted, RTM_DELLINK, kOurIndex, "w0", 0);
    EXPECT_TRUE(rt(deleted, s).link);
    EXPECT_EQ(s.ifindex, 0);

    Datagram route_meanwhile;  // nothing is on a missing interface
    add_route(route_meanwhile, {});
    EXPECT_FALSE(rt(route_meanwhile, s).any());

    Datagram recreated;
    add_link(recreated, RTM_NEWLINK, 9, "w0", IFF_BROADCAST);
    add_route(recreated, {.oif = 9});
    const auto events = rt(recreated, s);
    EXPECT_TRUE(events.link);
    EXPECT_TRUE(events.routes);
    EXPECT_EQ(s.ifindex, 9);

    Datagram renamed;
    add_link(renamed, RTM_NEWLINK, 9, "w1", IFF_BROADCAST);
    EXPECT_TRUE(rt(renamed, s).link);
    EXPECT_EQ(s.ifindex, 0);
}

TEST(KernelMonitorClassify, OwnLinkChangesStillMoveTheIndex) {
    ResolvedScope s = scope();
    s.ifindex = 0;
    Datagram created;
    add_link(created, RTM_NEWLINK, 11, "w0", kUpFlags, 0, kSomeone);
    EXPECT_FALSE(rt(created, s, [](std::uint32_t p) { return p == kSomeone; }).any());
    EXPECT_EQ(s.ifindex, 11);
}

TEST(KernelMonitorClassify, NftEventsCountAtTheirGeneration) {
    NftTransaction transaction;
    Datagram objects;
    add_nft(objects, NFT_MSG_DELRULE, NFPROTO_INET, "wgmesh-w0", "forward");
    add_nft(objects, NFT_MSG_DELCHAIN, NFPROTO_INET, "wgmesh-w0", "forward");
    add_nft(objects, NFT_MSG_DELTABLE, NFPROTO_INET, "wgmesh-w0");
    auto events = nft(objects, transaction);
    EXPECT_FALSE(events.nft_table);  // held until the transaction's NEWGEN
    EXPECT_EQ(events.messages, 3u);
    EXPECT_EQ(transaction.table, 3u);

    Datagram generation;
    add_generation(generation, kSomeone);
    events = nft(generation, transaction);
    EXPECT_TRUE(events.nft_table);
    EXPECT_FALSE(events.forward_accept);
    EXPECT_EQ(events.relevant, 3u);
    EXPECT_EQ(transaction.table, 0u);
}

TEST(KernelMonitorClassify, NftTransactionsOfOurOwnProcessAreDropped) {
    NftTransaction transaction;
    Datagram d;
    add_nft(d, NFT_MSG_NEWTABLE, NFPROTO_INET, "wgmesh-w0");
    add_nft(d, NFT_MSG_NEWRULE, NFPROTO_INET, "wgmesh-w0", "forward");
    add_generation(d, 777);
    const auto events =
        nft(d, transaction, [](std::uint32_t, std::uint32_t pid) { return pid == 777; });
    EXPECT_FALSE(events.any());
    EXPECT_EQ(events.messages, 3u);
    EXPECT_EQ(transaction.table, 0u);

    // The next, foreign, transaction is not confused with ours.
    Datagram next;
    add_nft(next, NFT_MSG_DELTABLE, NFPROTO_INET, "wgmesh-w0");
    add_generation(next, kSomeone);
    EXPECT_TRUE(nft(next, transaction, [](std::uint32_t, std::uint32_t pid) {
                    return pid == 777;
                }).nft_table);
}

TEST(KernelMonitorClassify, NftTransactionsOfOurOwnSocketAreDropped) {
    NftTransaction transaction;
    Datagram d;
    add_nft(d, NFT_MSG_DELRULE, NFPROTO_INET, "wgmesh-w0", "forward", 555);
    add_generation(d, 99999, 555);  // a thread that is gone, a socket that is not
    const TransactionPredicate by_port = [](std::uint32_t port, std::uint32_t) {
        return port == 555;
    };
    EXPECT_FALSE(nft(d, transaction, by_port).any());
}

TEST(KernelMonitorClassify, RuleDeletedFromIptablesNftForwardChain) {
    for (const auto family : {NFPROTO_IPV4, NFPROTO_IPV6}) {
        Datagram d;
        add_nft(d, NFT_MSG_DELRULE, static_cast<std::uint8_t>(family), "filter", "FORWARD");
        add_generation(d, kSomeone);
        const auto events = nft(d);
        EXPECT_TRUE(events.forward_accept) << family;
        EXPECT_FALSE(events.nft_table) << family;
    }
    Datagram created;
    add_nft(created, NFT_MSG_NEWCHAIN, NFPROTO_IPV4, "filter", "FORWARD");
    add_generation(created, kSomeone);
    EXPECT_TRUE(nft(created).forward_accept);
}

TEST(KernelMonitorClassify, ForeignNftObjectsAreNotRelevant) {
    Datagram d;
    add_nft(d, NFT_MSG_DELTABLE, NFPROTO_INET, "wgmesh-w1");         // another mesh's
    add_nft(d, NFT_MSG_DELTABLE, NFPROTO_IPV4, "wgmesh-w0");         // same name, ip family
    add_nft(d, NFT_MSG_DELRULE, NFPROTO_IPV4, "filter", "INPUT");    // not FORWARD
    add_nft(d, NFT_MSG_DELRULE, NFPROTO_INET, "filter", "FORWARD");  // a distro inet table
    add_nft(d, NFT_MSG_NEWRULE, NFPROTO_IPV4, "filter", "FORWARD");  // Docker adding rules
    add_nft(d, NFT_MSG_DELRULE, NFPROTO_IPV4, "nat", "FORWARD");
    add_generation(d, kSomeone);
    const auto events = nft(d);
    EXPECT_EQ(events.messages, 7u);
    EXPECT_EQ(events.relevant, 0u);
    EXPECT_FALSE(events.any());
}

TEST(KernelMonitorClassify, NewGenerationWithoutPidIsForeign) {
    NftTransaction transaction;
    Datagram d;
    add_nft(d, NFT_MSG_DELTABLE, NFPROTO_INET, "wgmesh-w0");
    void* extra = nullptr;
    d.add(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN), 0, 0,
          sizeof(nfgenmsg), &extra);
    d.seal();
    EXPECT_TRUE(
        nft(d, transaction, [](std::uint32_t, std::uint32_t pid) { return pid != 0; }).nft_table);
}

TEST(KernelMonitorClassify, ForwardingSysctlsOfAllOrOurInterface) {
    // ip_forward is conf/all/forwarding; rp_filter of "all" or ours decides reverse-path drops.
    for (const auto& [family, index, setting] :
         {std::tuple{AF_INET, NETCONFA_IFINDEX_ALL, NETCONFA_FORWARDING},
          std::tuple{AF_INET, kOurIndex, NETCONFA_FORWARDING},
          std::tuple{AF_INET, NETCONFA_IFINDEX_ALL, NETCONFA_RP_FILTER},
          std::tuple{AF_INET, kOurIndex, NETCONFA_RP_FILTER},
          std::tuple{AF_INET6, NETCONFA_IFINDEX_ALL, NETCONFA_FORWARDING},
          std::tuple{AF_INET6, kOurIndex, NETCONFA_FORWARDING}}) {
        Datagram d;
        add_netconf(d, static_cast<std::uint8_t>(family), index,
                    static_cast<std::uint16_t>(setting));
        const auto events = rt(d);
        EXPECT_TRUE(events.forwarding_sysctl) << family << " " << index << " " << setting;
        EXPECT_EQ(events.relevant, 1u);
        EXPECT_FALSE(events.routes || events.addresses || events.link);
    }
    // "all" needs no interface of ours.
    ResolvedScope gone = scope();
    gone.ifindex = 0;
    Datagram all;
    add_netconf(all, AF_INET, NETCONFA_IFINDEX_ALL, NETCONFA_FORWARDING);
    EXPECT_TRUE(rt(all, gone).forwarding_sysctl);
}

TEST(KernelMonitorClassify, OtherNetconfNotificationsAreNotRelevant) {
    Datagram d;
    // Writing ip_forward also reports "default" and every other device.
    add_netconf(d, AF_INET, NETCONFA_IFINDEX_DEFAULT, NETCONFA_FORWARDING);
    add_netconf(d, AF_INET, kOurIndex + 1, NETCONFA_FORWARDING);
    add_netconf(d, AF_INET, kOurIndex + 1, NETCONFA_RP_FILTER);
    // Settings the forwarding path does not depend on.
    add_netconf(d, AF_INET, NETCONFA_IFINDEX_ALL, NETCONFA_MC_FORWARDING);
    add_netconf(d, AF_INET, kOurIndex, NETCONFA_PROXY_NEIGH);
    add_netconf(d, AF_INET6, NETCONFA_IFINDEX_ALL, NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN);
    // A device going away: its index alone (our link's removal is a link event).
    add_netconf(d, AF_INET, kOurIndex, 0, RTM_DELNETCONF);
    // Another family.
    add_netconf(d, AF_MPLS, NETCONFA_IFINDEX_ALL, NETCONFA_FORWARDING);
    const auto events = rt(d);
    EXPECT_EQ(events.messages, 8u);
    EXPECT_EQ(events.relevant, 0u);
    EXPECT_FALSE(events.any());
}

TEST(KernelMonitorClassify, MalformedNetconfIsIgnored) {
    const auto netconf = [](std::uint16_t length_of_index, std::uint16_t length_of_setting,
                            bool with_index) {
        Datagram d;
        void* extra = nullptr;
        nlmsghdr* message = d.add(RTM_NEWNETCONF, 0, 0, sizeof(netconfmsg), &extra);
        static_cast<netconfmsg*>(extra)->ncm_family = AF_INET;
        const std::uint64_t all = static_cast<std::uint32_t>(NETCONFA_IFINDEX_ALL);
        if (with_index) {
            mnl_attr_put(message, NETCONFA_IFINDEX, length_of_index, &all);
        }
        const std::uint64_t off = 0;
        mnl_attr_put(message, NETCONFA_FORWARDING, length_of_setting, &off);
        d.seal();
        return rt(d);
    };
    EXPECT_TRUE(netconf(4, 4, true).forwarding_sysctl) << "well-formed";
    EXPECT_FALSE(netconf(2, 4, true).any()) << "short index";
    EXPECT_FALSE(netconf(8, 4, true).any()) << "long index";
    EXPECT_FALSE(netconf(4, 2, true).any()) << "short setting";
    EXPECT_FALSE(netconf(4, 8, true).any()) << "long setting";
    EXPECT_FALSE(netconf(4, 4, false).any()) << "no index: whose setting?";

    // Shorter than its family header.
    std::vector<std::uint32_t> words(4, 0);
    auto* header = reinterpret_cast<nlmsghdr*>(words.data());
    header->nlmsg_len = NLMSG_HDRLEN;
    header->nlmsg_type = RTM_NEWNETCONF;
    ResolvedScope s = scope();
    KernelEvents events;
    classify_rtnetlink({reinterpret_cast<const std::uint8_t*>(words.data()), words.size() * 4}, s,
                       nobody_is_us, events);
    EXPECT_FALSE(events.any());
}

TEST(KernelMonitorClassify, ForeignRulesAnywhereAreFlaggedForTheForwardingPathCheck) {
    for (const auto& [type, family, table, chain] :
         {std::tuple{NFT_MSG_NEWCHAIN, NFPROTO_INET, "fw", "forward"},     // a policy-drop chain
          std::tuple{NFT_MSG_NEWRULE, NFPROTO_IPV4, "filter", "FORWARD"},  // Docker's rules
          std::tuple{NFT_MSG_DELRULE, NFPROTO_IPV6, "filter", "DOCKER"},
          std::tuple{NFT_MSG_DELTABLE, NFPROTO_BRIDGE, "br", ""},
          std::tuple{NFT_MSG_DELRULE, NFPROTO_IPV4, "filter", "FORWARD"}}) {
        Datagram d;
        add_nft(d, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(family), table,
                chain);
        add_generation(d, kSomeone);
        const auto events = nft(d);
        EXPECT_TRUE(events.foreign_nft_rules) << table << " " << chain;
        EXPECT_FALSE(events.nft_table);
    }
    // Sets and their elements change often (blocklists) and are not looked at; our own
    // transactions and our own table are not foreign.
    Datagram elements;
    add_nft(elements, NFT_MSG_NEWSETELEM, NFPROTO_INET, "crowdsec");
    add_nft(elements, NFT_MSG_NEWSET, NFPROTO_INET, "crowdsec");
    add_generation(elements, kSomeone);
    EXPECT_FALSE(nft(elements).foreign_nft_rules);
    Datagram ours;
    add_nft(ours, NFT_MSG_NEWCHAIN, NFPROTO_INET, "fw", "forward");
    add_generation(ours, 777);
    NftTransaction transaction;
    EXPECT_FALSE(nft(ours, transaction, [](std::uint32_t, std::uint32_t pid) {
                     return pid == 777;
                 }).foreign_nft_rules);
    Datagram own_table;
    add_nft(own_table, NFT_MSG_DELRULE, NFPROTO_INET, "wgmesh-w0", "forward");
    add_generation(own_table, kSomeone);
    const auto events = nft(own_table);
    EXPECT_TRUE(events.nft_table);
    EXPECT_FALSE(events.foreign_nft_rules);
}

TEST(KernelMonitorClassify, GarbageAndTruncatedInputIsSkipped) {
    ResolvedScope s = scope();
    NftTransaction transaction;
    KernelEvents events;

    // A message claiming more bytes than the datagram holds.
    Datagram d;
    add_route(d, {});
    std::vector<std::uint8_t> truncated(d.span().begin(), d.span().end() - 4);
    classify_rtnetlink(truncated, s, nobody_is_us, events);
    classify_nftables(truncated, s.owned, transaction, no_transaction_is_ours, events);

    // Too short for its family header, and an attribute overrunning its message.
    std::vector<std::uint32_t> words(8, 0);
    auto* header = reinterpret_cast<nlmsghdr*>(words.data());
    header->nlmsg_len = NLMSG_HDRLEN + 4;
    header->nlmsg_type = RTM_DELROUTE;
    header->nlmsg_pid = kSomeone;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(words.data());
    classify_rtnetlink({bytes, words.size() * 4}, s, nobody_is_us, events);
    header->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE);
    classify_nftables({bytes, words.size() * 4}, s.owned, transaction, no_transaction_is_ours,
                      events);

    // A table name without its terminating NUL, then a generation.
    Datagram unterminated;
    void* extra = nullptr;
    nlmsghdr* message =
        unterminated.add(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE),
                         0, kSomeone, sizeof(nfgenmsg), &extra);
    static_cast<nfgenmsg*>(extra)->nfgen_family = NFPROTO_INET;
    mnl_attr_put(message, NFTA_TABLE_NAME, 9, "wgmesh-w0");
    unterminated.seal();
    add_generation(unterminated, kSomeone);
    classify_nftables(unterminated.span(), s.owned, transaction, no_transaction_is_ours, events);

    // Random bytes, at an odd address too.
    std::mt19937 random(12345);
    std::vector<std::uint8_t> noise(4097);
    for (int round = 0; round < 200; ++round) {
        for (auto& byte : noise) {
            byte = static_cast<std::uint8_t>(random());
        }
        classify_rtnetlink(std::span(noise).subspan(round % 2), s, nobody_is_us, events);
        classify_nftables(std::span(noise).subspan(round % 2), s.owned, transaction,
                          no_transaction_is_ours, events);
    }
    EXPECT_FALSE(events.routes || events.addresses || events.nft_table || events.forward_accept ||
                 events.forwarding_sysctl);
}

TEST(KernelMonitorPortIds, EveryNetlinkSocketOfThisProcessIsOursUntilShortlyAfterClosing) {
    std::uint32_t port = 0;
    {
        NetlinkSocket socket(NETLINK_ROUTE);
        port = socket.port_id();
        ASSERT_NE(port, 0u);
        EXPECT_TRUE(is_own_port_id(port));
        EXPECT_TRUE(is_own_port_id(port, NETLINK_ROUTE));
        EXPECT_FALSE(is_own_port_id(port, NETLINK_GENERIC));  // ids are per protocol
        NetlinkSocket moved(std::move(socket));
        EXPECT_TRUE(is_own_port_id(port));
    }
    // Closed, but its last notifications may still be queued at a monitor.
    EXPECT_TRUE(is_own_port_id(port));
    EXPECT_FALSE(is_own_port_id(0));
    EXPECT_FALSE(is_own_port_id(port + 0x1234567));
}

TEST(KernelMonitorPortIds, OwnNetlinkSocketsAreFoundByProtocol) {
    const NetlinkSocket route(NETLINK_ROUTE);
    std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> netfilter(
        mnl_socket_open(NETLINK_NETFILTER), &mnl_socket_close);
    ASSERT_TRUE(netfilter);
    ASSERT_EQ(mnl_socket_bind(netfilter.get(), 0, MNL_SOCKET_AUTOPID), 0);
    const std::uint32_t netfilter_port = mnl_socket_get_portid(netfilter.get());

    const auto routes = own_netlink_port_ids(NETLINK_ROUTE);
    EXPECT_NE(std::find(routes.begin(), routes.end(), route.port_id()), routes.end());
    const auto netfilters = own_netlink_port_ids(NETLINK_NETFILTER);
    EXPECT_NE(std::find(netfilters.begin(), netfilters.end(), netfilter_port), netfilters.end());
    EXPECT_TRUE(is_own_nft_transaction(netfilter_port, 0));
    netfilter.reset();
    EXPECT_FALSE(is_own_nft_transaction(netfilter_port, 0));
}

TEST(KernelMonitorPortIds, OwnThreadsAreRecognised) {
    EXPECT_TRUE(is_own_thread(static_cast<std::uint32_t>(getpid())));
    EXPECT_TRUE(is_own_thread(static_cast<std::uint32_t>(gettid())));
    EXPECT_FALSE(is_own_thread(0));
    EXPECT_FALSE(is_own_thread(1));  // init, never a test's thread
}

}  // namespace
}  // namespace wgmesh::netlink
