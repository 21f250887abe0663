// The mesh probe server in a private namespace, bound to a veth standing in for the mesh
// interface: it answers on both mesh addresses and never through another interface,
// follows an address change and a recreated interface, and under a flood of connections
// from many sources (plus a slow-loris and an overlong line) keeps answering a legitimate
// prober within its connection and descriptor bounds. Clients run in a second namespace.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mesh/peer_probe.h"
#include "netlink/ip_address.h"
#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "tests/support/probe_sockets.h"
#include "tools/wgmesh/daemon/probe_client.h"
#include "tools/wgmesh/daemon/probe_lines.h"
#include "tools/wgmesh/daemon/probe_server.h"

namespace wgmesh::cli {
namespace {

using namespace std::chrono_literals;
using netlink::IpAddress;
using netlink::UniqueFd;
using test::closed_by_peer;
using test::connect_tcp;
using test::eventually;
using test::send_and_read_line;

constexpr auto kWait = 60s;
// mesh::probe_port of the lowest gossip port: the namespaces are private, any port works.
constexpr std::uint16_t kPort = mesh::probe_port(51821);
const IpAddress kServerV4 = IpAddress::parse_or_throw("10.42.0.1");
const IpAddress kServerV6 = IpAddress::parse_or_throw("fd42::1");
const IpAddress kMovedV4 = IpAddress::parse_or_throw("10.42.0.9");

wg::Key key(std::uint8_t n) {
    std::array<std::uint8_t, wg::Key::kSize> bytes{};
    bytes.fill(n);
    return wg::Key(bytes);
}

class ProbeNetnsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_NETNS();
        server_ns_ = std::make_unique<test::TestNamespace>("prs");
        client_ns_ = std::make_unique<test::TestNamespace>("prc");
        // m0 plays the mesh interface; u0 the underlay, over which the mesh addresses are
        // routed too, so that only the interface binding keeps probes off it.
        test::connect_veth(*server_ns_, "m0", "10.42.0.1/16", *client_ns_, "m0", "10.42.0.2/16");
        test::connect_veth(*server_ns_, "u0", "192.0.2.1/24", *client_ns_, "u0", "192.0.2.2/24");
        server_ns_->exec_checked({"ip", "addr", "add", "fd42::1/64", "dev", "m0", "nodad"});
        client_ns_->exec_checked({"ip", "addr", "add", "fd42::2/64", "dev", "m0", "nodad"});
        auto scope = server_ns_->enter();
        server_ = std::make_unique<ProbeServer>("m0", kPort);
    }
    void TearDown() override { server_.reset(); }

    std::vector<mesh::ProbeOutcome> probe_from_client(const std::vector<mesh::ProbeTarget>& t) {
        auto scope = client_ns_->enter();
        return client_->probe(t);
    }

    std::unique_ptr<test::TestNamespace> server_ns_;
    std::unique_ptr<test::TestNamespace> client_ns_;
    std::unique_ptr<ProbeServer> server_;
    std::unique_ptr<ProbeClient> client_ = std::make_unique<ProbeClient>("m0", kPort);
};

TEST_F(ProbeNetnsTest, AnswersOnBothMeshAddressesAndNotThroughTheUnderlay) {
    ASSERT_TRUE(server_->set_addresses(kServerV4, kServerV6)) << server_->status_json().dump();
    const auto outcomes =
        probe_from_client({{key(1), std::nullopt, kServerV4}, {key(2), kServerV6, std::nullopt}});
    EXPECT_TRUE(outcomes[0].answered) << outcomes[0].error;
    EXPECT_TRUE(outcomes[1].answered) << outcomes[1].error;
    EXPECT_EQ(server_->counters().listening.size(), 2u);

    // The same address reached through u0: the kernel delivers it locally (weak host
    // model), but the listener is bound to m0, so nobody answers.
    client_ns_->exec_checked({"ip", "route", "add", "10.42.0.1/32", "via", "192.0.2.1"});
    auto scope = client_ns_->enter();
    EXPECT_FALSE(connect_tcp(kServerV4, kPort, std::nullopt, 5s));
    EXPECT_EQ(server_->counters().accepted, 2u);
}

TEST_F(ProbeNetnsTest, ASilentIpv6AddressDoesNotHoldUpTheIpv4Dial) {
    ASSERT_TRUE(server_->set_addresses(kServerV4, kServerV6)) << server_->status_json().dump();
    // IPv6 probes vanish without an answer (a firewall, a broken IPv6 path through a relay).
    server_ns_->exec_checked({"nft",
                              "add table ip6 wgmt-silent; add chain ip6 wgmt-silent in { "
                              "type filter hook input priority 0; }; add rule ip6 "
                              "wgmt-silent in tcp dport " +
                                  std::to_string(kPort) + " drop"});
    // A dial timeout far beyond any test's patience: only the IPv4 dial started alongside the
    // silent IPv6 one (after 250 ms) can answer this probe; dialling one after the other
    // would wait the whole timeout first.
    client_ = std::make_unique<ProbeClient>("m0", kPort, std::chrono::minutes(30));
    const auto outcomes = probe_from_client({{key(1), kServerV6, kServerV4}});
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_TRUE(outcomes[0].answered) << outcomes[0].error;
    EXPECT_EQ(client_->session_count(), 1u) << "the IPv4 session is kept";
}

TEST_F(ProbeNetnsTest, FollowsAnAddressChangeAndARecreatedInterface) {
    ASSERT_TRUE(server_->set_addresses(kServerV4, kServerV6));
    ASSERT_TRUE(probe_from_client({{key(1), std::nullopt, kServerV4}})[0].answered);

    // Collision repair: the new address first, then the old one goes (with secondaries
    // promoted, as the daemon sets it up, so the new one stays).
    server_ns_->exec_checked({"sysctl", "-qw", "net.ipv4.conf.m0.promote_secondaries=1"});
    server_ns_->exec_checked({"ip", "addr", "add", "10.42.0.9/16", "dev", "m0"});
    ASSERT_TRUE(server_->set_addresses(kMovedV4, kServerV6)) << server_->status_json().dump();
    server_ns_->exec_checked({"ip", "addr", "del", "10.42.0.1/16", "dev", "m0"});
    const std::string listening = server_->status_json()["listening"].dump();
    EXPECT_NE(listening.find("10.42.0.9"), std::string::npos) << listening;
    EXPECT_EQ(listening.find("10.42.0.1:"), std::string::npos) << listening;
    client_->close_sessions_except({});
    const auto moved =
        probe_from_client({{key(1), std::nullopt, kServerV4}, {key(2), std::nullopt, kMovedV4}});
    EXPECT_FALSE(moved[0].answered);
    EXPECT_TRUE(moved[1].answered) << moved[1].error;
    {
        // Even with the old address back on the interface, its listener is gone.
        server_ns_->exec_checked({"ip", "addr", "add", "10.42.0.1/16", "dev", "m0"});
        auto scope = client_ns_->enter();
        EXPECT_FALSE(connect_tcp(kServerV4, kPort, std::nullopt, 5s));
    }

    // The interface deleted and made again: a new index, the same addresses.
    server_ns_->exec_checked({"ip", "link", "del", "m0"});
    EXPECT_FALSE(server_->set_addresses(kMovedV4, kServerV6));
    EXPECT_FALSE(server_->counters().errors.empty());
    test::connect_veth(*server_ns_, "m0", "10.42.0.9/16", *client_ns_, "m0", "10.42.0.2/16");
    server_ns_->exec_checked({"ip", "addr", "add", "fd42::1/64", "dev", "m0", "nodad"});
    client_ns_->exec_checked({"ip", "addr", "add", "fd42::2/64", "dev", "m0", "nodad"});
    ASSERT_TRUE(server_->set_addresses(kMovedV4, kServerV6)) << server_->status_json().dump();
    client_->close_sessions_except({});
    const auto back =
        probe_from_client({{key(1), kServerV6, std::nullopt}, {key(2), std::nullopt, kMovedV4}});
    EXPECT_TRUE(back[0].answered) << back[0].error;
    EXPECT_TRUE(back[1].answered) << back[1].error;
}

TEST_F(ProbeNetnsTest, AFloodFromInsideTheMeshLeavesItAnsweringWithinItsBounds) {
    ASSERT_TRUE(server_->set_addresses(kServerV4, kServerV6));
    constexpr int kSources = 80;  // x 4 per source: over the total cap of 256
    constexpr int kFlood = 2000;
    // The flood's sockets and the server's live in this process: more than the soft limit of
    // 1024 descriptors that systemd and a kernel's init hand out, so it is raised to the hard
    // limit (as Go programs do at start).
    rlimit files{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
    files.rlim_cur = files.rlim_max;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0);
    ASSERT_GE(files.rlim_cur, rlim_t{kFlood + 1024}) << "the hard limit of open files is too low";
    std::string batch = "addr add 10.42.2.1/16 dev m0\n";  // the slow-loris
    for (int i = 1; i <= kSources; ++i) {
        batch += "addr add 10.42.1." + std::to_string(i) + "/16 dev m0\n";
    }
    client_ns_->exec_checked({"ip", "-batch", "-"}, batch);

    // A legitimate prober with its session from before the flood.
    ASSERT_TRUE(probe_from_client({{key(1), kServerV6, kServerV4}})[0].answered);
    auto scope = client_ns_->enter();
    const std::size_t baseline = test::open_descriptors();
    const UniqueFd slow = connect_tcp(kServerV4, kPort, IpAddress::v4(10, 42, 2, 1));
    const UniqueFd long_line = connect_tcp(kServerV4, kPort, IpAddress::v4(10, 42, 0, 2));
    // A raw Go-style session that pings: it must survive the flood without a re-dial (our
    // client would re-dial a closed session unnoticed).
    const UniqueFd pinger = connect_tcp(kServerV4, kPort, IpAddress::v4(10, 42, 0, 2));
    ASSERT_TRUE(slow && long_line && pinger);
    ASSERT_EQ(send_and_read_line(pinger.get(), "ping\n"), "pong");
    const std::string overlong(kMaxProbeLineBytes + 100, 'x');
    ASSERT_GT(send(long_line.get(), overlong.data(), overlong.size(), MSG_NOSIGNAL), 0);

    std::vector<UniqueFd> flood;
    long long most_server_sockets = 0;
    std::size_t most_open = 0;
    for (int i = 0; i < kFlood; ++i) {
        const auto source =
            IpAddress::v4(10, 42, 1, static_cast<std::uint8_t>(1 + (i / 2) % kSources));
        UniqueFd fd = connect_tcp(i % 2 == 0 ? kServerV4 : kServerV6, kPort,
                                  i % 2 == 0 ? std::optional(source) : std::nullopt, 5s);
        if (fd) {
            flood.push_back(std::move(fd));
        }
        if (i % 50 == 49) {
            send(slow.get(), "p", 1, MSG_NOSIGNAL);  // a byte at a time, never a line
            // Counted once the server has accepted everything so far and sits idle.
            // The prober, slow, long_line and pinger.
            const std::size_t connected = flood.size() + 4;
            ASSERT_TRUE(
                eventually([&] { return server_->counters().accepted == connected; }, kWait));
            // The server's sockets: every descriptor above the baseline but the test's own
            // (flood, slow, long_line, pinger), plus the prober's connection the baseline
            // holds.
            const auto ours = static_cast<long long>(flood.size() + 3);
            most_server_sockets =
                std::max(most_server_sockets, static_cast<long long>(test::open_descriptors()) -
                                                  static_cast<long long>(baseline) - ours + 1);
            most_open = std::max(most_open, server_->counters().open);
        }
    }
    EXPECT_GE(flood.size(), static_cast<std::size_t>(kFlood * 9 / 10));

    EXPECT_EQ(send_and_read_line(pinger.get(), "ping\n"), "pong");
    // The prober is answered, and so is a fresh dial. (A loaded machine may let one probe
    // miss its 1.2 s while the server works through the flood's last evictions; the health
    // policy needs 8 misses in a row to call a peer offline, so a later answer is what
    // counts.)
    std::string error;
    EXPECT_TRUE(eventually(
        [&] {
            const auto outcomes =
                client_->probe(std::vector<mesh::ProbeTarget>{{key(1), kServerV6, kServerV4}});
            error = outcomes[0].error;
            return outcomes[0].answered;
        },
        kWait))
        << error;
    const UniqueFd fresh = connect_tcp(kServerV4, kPort, IpAddress::v4(10, 42, 0, 2));
    ASSERT_TRUE(fresh);
    EXPECT_EQ(send_and_read_line(fresh.get(), "ping\n"), "pong");

    const auto counters = server_->counters();
    EXPECT_LE(counters.open, 256u);
    EXPECT_EQ(most_open, 256u) << "the total cap was reached";
    EXPECT_LE(most_server_sockets, 256);
    EXPECT_GE(counters.evicted, flood.size() - 256);
    EXPECT_TRUE(closed_by_peer(long_line.get(), kWait));
    EXPECT_TRUE(eventually([&] { return server_->counters().too_long == 1; }, kWait));
    EXPECT_TRUE(closed_by_peer(slow.get(), kWait)) << "evicted, or timed out after 10 s";

    // The flood gone, the server holds the prober's, the pinger's and the fresh session only.
    flood.clear();
    EXPECT_TRUE(eventually([&] { return server_->counters().open <= 3; }, kWait))
        << server_->status_json().dump();
}

}  // namespace
}  // namespace wgmesh::cli
