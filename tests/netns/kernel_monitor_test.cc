// KernelMonitor against the real kernel in private namespaces: what ip(8) and nft(8) do to
// owned state is reported, what they do elsewhere is not, nor are our own writes through
// KernelRouteTable, the address code and NftForwarding; a tiny receive buffer overruns.
// Every wait polls the monitor's fd up to a generous deadline; nothing is timed.
#include "netlink/kernel_monitor.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/nft_forwarding.h"
#include "netlink/route_table.h"
#include "tests/support/netns.h"

namespace wgmesh::netlink {
namespace {

using test::TestNamespace;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(10);

#define WGMESH_REQUIRE_NFT()                                                            \
    do {                                                                                \
        if (!::wgmesh::test::program_exists("nft"))                                     \
            GTEST_SKIP() << "kernel monitor nft test skipped: nft(8) is not installed"; \
    } while (0)

// Drains until `done` holds for everything drained so far, or the deadline passes.
KernelEvents wait_until(KernelMonitor& monitor,
                        const std::function<bool(const KernelEvents&)>& done) {
    KernelEvents all;
    const auto deadline = Clock::now() + kDeadline;
    while (!done(all) && Clock::now() < deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd readable{monitor.fd(), POLLIN, 0};
        ::poll(&readable, 1, static_cast<int>(std::max<long>(left.count(), 1)));
        all |= monitor.drain();
    }
    return all;
}

class KernelMonitorTest : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_NETNS();
        ns_ = std::make_unique<TestNamespace>("km");
        // veth pairs stand in for the mesh interface ("w0") and another one ("o0"); this
        // kernel may lack the dummy module, and no WireGuard is needed.
        for (const auto& [dev, v4, v6] : {std::tuple{"w0", "10.5.0.1/16", "fd55::1/64"},
                                          std::tuple{"o0", "10.6.0.1/16", "fd66::1/64"}}) {
            add_veth(dev);
            ns_->exec_checked({"ip", "addr", "add", v4, "dev", dev});
            ns_->exec_checked({"ip", "-6", "addr", "add", v6, "dev", dev, "nodad"});
        }
        scope_ = std::make_unique<TestNamespace::Scope>(ns_->name());
        monitor_ = std::make_unique<KernelMonitor>(OwnedScope{"w0", 150, 254, "wgmesh-w0"});
        ASSERT_GT(monitor_->ifindex(), 0);
    }

    void TearDown() override {
        monitor_.reset();
        scope_.reset();
    }

    void add_veth(const std::string& dev) {
        const std::string peer = dev + "p";
        ns_->exec_checked({"ip", "link", "add", dev, "type", "veth", "peer", "name", peer});
        ns_->exec_checked({"ip", "link", "set", dev, "up"});
        ns_->exec_checked({"ip", "link", "set", peer, "up"});
    }

    void ip(const std::string& command) {
        std::vector<std::string> argv{"ip"};
        std::istringstream words(command);
        for (std::string word; words >> word;) {
            argv.push_back(word);
        }
        ns_->exec_checked(argv);
    }

    void nft(const std::string& command) { ns_->exec_checked({"nft", "-f", "-"}, command + "\n"); }

    // Writes /proc/sys/<key> in the namespace, as an operator's `sysctl -w` does.
    void sysctl(const std::string& key, const std::string& value) {
        ns_->exec_checked({"sh", "-c", "echo " + value + " > /proc/sys/" + key});
    }

    // Reads (and forgets) what earlier setup steps caused. The kernel queues a notification
    // before the command that caused it returns, so one drain takes all of them.
    void settle() { (void)monitor_->drain(); }

    KernelEvents wait_for(bool KernelEvents::*flag) {
        return wait_until(*monitor_, [flag](const KernelEvents& e) { return e.*flag; });
    }

    std::unique_ptr<TestNamespace> ns_;
    std::unique_ptr<TestNamespace::Scope> scope_;
    std::unique_ptr<KernelMonitor> monitor_;
};

TEST_F(KernelMonitorTest, FdIsReadableExactlyWhenSomethingIsPending) {
    settle();
    pollfd readable{monitor_->fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&readable, 1, 0), 0);
    ip("route add 10.9.0.0/24 via 10.5.0.2 dev w0 proto 150");
    EXPECT_EQ(::poll(&readable, 1, 10000), 1);
    EXPECT_TRUE(monitor_->drain().routes);
    EXPECT_EQ(::poll(&readable, 1, 0), 0);
}

TEST_F(KernelMonitorTest, OwnedRouteDeletedOrFlushedIsReported) {
    ip("route add 10.9.0.0/24 via 10.5.0.2 dev w0 proto 150");
    ip("route add 10.10.0.0/24 via 10.5.0.2 dev w0 proto 150");
    ip("-6 route add fd09::/64 via fd55::2 dev w0 proto 150");
    settle();

    ip("route del 10.9.0.0/24 via 10.5.0.2 dev w0 proto 150");
    auto events = wait_for(&KernelEvents::routes);
    EXPECT_TRUE(events.routes);
    EXPECT_EQ(events.relevant, 1u) << events.addresses << events.link << events.nft_table
                                   << events.forward_accept << events.overrun;
    EXPECT_FALSE(events.addresses || events.link || events.nft_table || events.forward_accept ||
                 events.overrun);

    ip("route flush proto 150");
    ip("-6 route flush proto 150");
    events = wait_until(*monitor_, [](const KernelEvents& e) { return e.relevant >= 2; });
    EXPECT_TRUE(events.routes);
    EXPECT_EQ(events.relevant, 2u);
}

TEST_F(KernelMonitorTest, PrefixRouteDeletedBySomeoneIsReported) {
    settle();
    ip("route del 10.5.0.0/16 dev w0");
    EXPECT_TRUE(wait_for(&KernelEvents::routes).routes);
}

TEST_F(KernelMonitorTest, AddressDeletedIsReported) {
    settle();
    ip("addr del 10.5.0.1/16 dev w0");
    auto events = wait_for(&KernelEvents::addresses);
    EXPECT_TRUE(events.addresses);
    // The kernel removes the prefix route itself; that is the address's event, not another.
    EXPECT_FALSE(events.routes);

    ip("-6 addr del fd55::1/64 dev w0");
    EXPECT_TRUE(wait_for(&KernelEvents::addresses).addresses);
}

TEST_F(KernelMonitorTest, LinkDownAndUpAreReported) {
    settle();
    ip("link set w0 down");
    EXPECT_TRUE(wait_for(&KernelEvents::link).link);
    ip("link set w0 up");
    EXPECT_TRUE(wait_for(&KernelEvents::link).link);
}

TEST_F(KernelMonitorTest, LinkDeletedAndRecreatedIsFollowed) {
    const int before = monitor_->ifindex();
    settle();
    ip("link del w0");
    EXPECT_TRUE(wait_for(&KernelEvents::link).link);
    EXPECT_EQ(monitor_->ifindex(), 0);

    add_veth("w0");
    EXPECT_TRUE(
        wait_until(*monitor_, [&](const KernelEvents&) { return monitor_->ifindex() != 0; }).link);
    EXPECT_NE(monitor_->ifindex(), before);

    // Routes are watched on the new link.
    ip("route add 10.9.0.0/24 dev w0 proto 150");
    settle();
    ip("route del 10.9.0.0/24 dev w0 proto 150");
    EXPECT_TRUE(wait_for(&KernelEvents::routes).routes);
}

TEST_F(KernelMonitorTest, InterfaceCreatedAfterTheMonitorIsPickedUp) {
    KernelMonitor late(OwnedScope{"late0", 150, 254, ""});
    EXPECT_EQ(late.ifindex(), 0);
    add_veth("late0");
    EXPECT_TRUE(wait_until(late, [&](const KernelEvents&) { return late.ifindex() != 0; }).link);
}

TEST_F(KernelMonitorTest, OurNftTableDeletedIsReported) {
    WGMESH_REQUIRE_NFT();
    nft("add table inet wgmesh-w0\nadd chain inet wgmesh-w0 forward { type filter hook forward "
        "priority 0; }\nadd rule inet wgmesh-w0 forward accept");
    (void)wait_for(&KernelEvents::nft_table);  // someone else creating it counts as well

    nft("delete table inet wgmesh-w0");
    const auto events = wait_for(&KernelEvents::nft_table);
    EXPECT_TRUE(events.nft_table);
    EXPECT_FALSE(events.routes || events.addresses || events.link || events.forward_accept);
}

TEST_F(KernelMonitorTest, RuleDeletedFromIptablesNftForwardChainIsReported) {
    WGMESH_REQUIRE_NFT();
    nft("add table ip filter\nadd chain ip filter FORWARD { type filter hook forward priority 0; "
        "}");
    const std::string echoed = ns_->exec_checked(
        {"nft", "--echo", "--handle", "add", "rule", "ip", "filter", "FORWARD", "accept"});
    const auto at = echoed.find("# handle ");
    ASSERT_NE(at, std::string::npos) << echoed;
    const std::string handle = std::to_string(std::stoi(echoed.substr(at + 9)));
    (void)wait_for(&KernelEvents::forward_accept);  // the chain's creation
    settle();

    nft("delete rule ip filter FORWARD handle " + handle);
    const auto events = wait_for(&KernelEvents::forward_accept);
    EXPECT_TRUE(events.forward_accept);
    EXPECT_FALSE(events.nft_table);
}

TEST_F(KernelMonitorTest, ForeignChangesElsewhereAreNotReported) {
    settle();
    for (const char* command :
         {"route add 10.20.0.0/24 via 10.6.0.2 dev o0 proto 150",             // other interface
          "route add 10.21.0.0/24 via 10.5.0.2 dev w0 proto static",          // other protocol
          "route add 10.22.0.0/24 via 10.5.0.2 dev w0 proto 150 table 1000",  // other table
          "route del 10.20.0.0/24 via 10.6.0.2 dev o0 proto 150",
          "route del 10.21.0.0/24 via 10.5.0.2 dev w0 proto static",
          "route del 10.22.0.0/24 via 10.5.0.2 dev w0 proto 150 table 1000",
          "addr add 10.66.0.1/24 dev o0", "addr del 10.66.0.1/24 dev o0",
          "addr del 10.6.0.1/16 dev o0", "-6 addr del fd66::1/64 dev o0", "link set o0 down"}) {
        ip(command);
    }
    if (test::program_exists("nft")) {
        nft("add table inet other\nadd chain inet other c\ndelete table inet other");
        nft("add table ip filter\nadd chain ip filter INPUT { type filter hook input priority 0; "
            "}\nadd rule ip filter INPUT accept\nflush chain ip filter INPUT");
    }

    // One change of ours, after all of them: once it is seen, everything before it was read.
    ip("addr add 10.99.0.1/32 dev w0");
    const auto events = wait_for(&KernelEvents::addresses);
    EXPECT_TRUE(events.addresses);
    EXPECT_EQ(events.relevant, 1u);
    EXPECT_FALSE(events.routes || events.link || events.nft_table || events.forward_accept ||
                 events.overrun);
    EXPECT_GT(events.messages, 10u);
}

TEST_F(KernelMonitorTest, OurOwnWritesAreNotReported) {
    // NftForwarding turns ip_forward on through /proc/sys, which the kernel reports with no
    // port id to tell it from anyone's (a known blind spot, one repair that finds nothing):
    // on already, it writes nothing and the kernel reports nothing.
    sysctl("net/ipv4/ip_forward", "1");
    settle();
    {
        KernelRouteTable table("w0", 254, 150);
        auto route = [](const char* destination, const char* gateway) {
            return Route{Prefix::parse_or_throw(destination), IpAddress::parse_or_throw(gateway)};
        };
        auto report =
            table.sync({route("10.30.0.0/24", "10.5.0.2"), route("10.31.0.0/24", "10.5.0.3"),
                        route("fd30::/64", "fd55::2")});
        ASSERT_TRUE(report.failures.empty());
        report = table.sync({route("10.30.0.0/24", "10.5.0.9"), route("fd30::/64", "fd55::2")});
        ASSERT_TRUE(report.failures.empty());
        ASSERT_TRUE(table.flush().failures.empty());
        // Someone deletes the prefix route; we put it back.
        ns_->exec_checked({"ip", "route", "del", "10.5.0.0/16", "dev", "w0"});
        const auto seen = wait_for(&KernelEvents::routes);
        EXPECT_EQ(seen.relevant, 1u) << "only the deletion by ip(8), none of our syncs";
        table.restore_prefix_routes({Prefix::parse_or_throw("10.5.0.0/16")});
        ASSERT_EQ(table.last_restored_prefix_routes(), 1u);
    }
    {
        NetlinkSocket socket;
        const int index = link_index(socket, "w0");
        add_address(socket, index, *InterfaceAddress::parse("10.7.0.1/24"));
        add_address(socket, index, *InterfaceAddress::parse("fd77::1/64"));
        KernelAddressSet addresses("w0");
        addresses.replace(*InterfaceAddress::parse("10.7.0.1/24"),
                          *InterfaceAddress::parse("10.8.0.1/24"));
        ASSERT_TRUE(delete_address(socket, index, *InterfaceAddress::parse("10.8.0.1/24")));
    }
    // The kernel names the committing thread in NEWGEN, and the committing socket: one
    // context on this (main) thread, destroyed before the drain, is recognised by the
    // thread; one made on a thread that has exited by the time of the drain, as happens
    // when a reconcile thread stops, by its socket, which lives as long as the context.
    std::unique_ptr<NftForwarding> threaded;
    if (test::program_exists("nft")) {
        {
            NftForwarding forwarding("w0");
            forwarding.ensure();
            forwarding.ensure();
        }
        std::thread other([&] {
            const TestNamespace::Scope inside(ns_->name());
            threaded = std::make_unique<NftForwarding>("w0");
            threaded->ensure();
            threaded->remove();
            threaded->ensure();
        });
        other.join();
        threaded->remove();
    }

    // A change by someone else, after all of ours: once it is seen, all of ours were read.
    ip("route add 10.98.0.0/24 dev w0 proto 150");
    auto events = wait_for(&KernelEvents::routes);
    EXPECT_TRUE(events.routes);
    EXPECT_EQ(events.relevant, 1u) << events.addresses << events.link << events.nft_table
                                   << events.forward_accept << events.overrun;
    EXPECT_FALSE(events.addresses || events.link || events.nft_table || events.forward_accept ||
                 events.overrun);
    if (test::program_exists("nft")) {
        nft("add table inet wgmesh-w0");  // one message in its transaction
        events = wait_for(&KernelEvents::nft_table);
        EXPECT_TRUE(events.nft_table);
        EXPECT_EQ(events.relevant, 1u);
    }
}

TEST_F(KernelMonitorTest, ForwardingSysctlsSwitchedAreReported) {
    // Known values first (a new namespace may inherit the host's IPv4 settings).
    sysctl("net/ipv4/ip_forward", "1");
    sysctl("net/ipv4/conf/w0/rp_filter", "1");
    settle();

    sysctl("net/ipv4/ip_forward", "0");
    auto events = wait_for(&KernelEvents::forwarding_sysctl);
    EXPECT_TRUE(events.forwarding_sysctl);
    EXPECT_FALSE(events.routes || events.addresses || events.link || events.overrun);
    settle();

    // Unchanged values and other interfaces' settings are not reported: the change of ours
    // after them is the only relevant one.
    sysctl("net/ipv4/ip_forward", "0");
    sysctl("net/ipv4/conf/o0/rp_filter", "2");
    sysctl("net/ipv6/conf/o0/forwarding", "1");
    sysctl("net/ipv4/conf/w0/rp_filter", "2");
    events = wait_for(&KernelEvents::forwarding_sysctl);
    EXPECT_TRUE(events.forwarding_sysctl);
    EXPECT_EQ(events.relevant, 1u);
    settle();

    sysctl("net/ipv6/conf/all/forwarding", "1");
    EXPECT_TRUE(wait_for(&KernelEvents::forwarding_sysctl).forwarding_sysctl);
}

TEST_F(KernelMonitorTest, ForeignChainsAndRulesAnywhereAreFlagged) {
    WGMESH_REQUIRE_NFT();
    settle();
    nft("add table inet fw\nadd chain inet fw forward { type filter hook forward priority -10; "
        "policy drop; }");
    const auto events = wait_for(&KernelEvents::foreign_nft_rules);
    EXPECT_TRUE(events.foreign_nft_rules);
    EXPECT_FALSE(events.any()) << "nothing owned";
    EXPECT_EQ(events.relevant, 0u);
}

TEST_F(KernelMonitorTest, LostEventsAreReportedAsOverrun) {
    KernelMonitor small(OwnedScope{"w0", 150, 254, "wgmesh-w0"}, 2048);
    (void)small.drain();
    std::string batch;
    for (int i = 0; i < 1500; ++i) {
        batch += "route add 10.40." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
                 "/32 dev o0\n";
    }
    for (int i = 0; i < 1500; ++i) {
        batch += "route del 10.40." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
                 "/32 dev o0\n";
    }
    ns_->exec_checked({"ip", "-batch", "-"}, batch);
    const auto events = wait_until(small, [](const KernelEvents& e) { return e.overrun; });
    EXPECT_TRUE(events.overrun);

    // Still working afterwards, without another overrun.
    (void)small.drain();
    ip("route add 10.9.0.0/24 dev w0 proto 150");
    const auto after = wait_until(small, [](const KernelEvents& e) { return e.routes; });
    EXPECT_TRUE(after.routes);
    EXPECT_FALSE(after.overrun);
}

// Our own writes are dropped in the kernel, before the receive buffer is charged: a
// 5000-route sync sends nothing to a monitor with a 64 KiB buffer, which the same sync
// overflows once the route table's socket is no longer ours (closed: its echoes pass).
TEST_F(KernelMonitorTest, OurOwnBulkWritesNeverReachTheMonitor) {
    std::vector<Route> routes;
    for (int i = 0; i < 5000; ++i) {
        routes.push_back({Prefix::parse_or_throw("10.70." + std::to_string(i / 250) + "." +
                                                 std::to_string(i % 250) + "/32"),
                          IpAddress::parse_or_throw("10.5.0.2")});
    }
    auto table = std::make_unique<KernelRouteTable>("w0", 254, 150);
    KernelMonitor small(OwnedScope{"w0", 150, 254, "wgmesh-w0"}, 64 * 1024);
    (void)small.drain();
    ASSERT_EQ(table->sync(routes).added, routes.size());
    auto events = small.drain();
    EXPECT_FALSE(events.overrun) << "our own echoes filled the buffer";
    EXPECT_EQ(events.messages, 0u) << "our own echoes were delivered";

    // A foreign change still arrives.
    ip("route del 10.70.0.7/32 via 10.5.0.2 dev w0 proto 150");
    events = wait_until(small, [](const KernelEvents& e) { return e.routes; });
    EXPECT_TRUE(events.routes);
    EXPECT_FALSE(events.overrun);

    // The same write from a socket that is no longer in the filter overflows the buffer.
    table.reset();
    ip("route flush proto 150");
    (void)small.drain();
    KernelRouteTable other("w0", 254, 150);  // opened after the last drain: not filtered yet
    ASSERT_EQ(other.sync(routes).added, routes.size());
    EXPECT_TRUE(wait_until(small, [](const KernelEvents& e) { return e.overrun; }).overrun);
}

}  // namespace
}  // namespace wgmesh::netlink
