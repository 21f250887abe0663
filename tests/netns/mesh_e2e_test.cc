// End-to-end scenarios of issue 5 with real `wgmesh join` daemons (WGMESH_BINARY) and
// wireguard-go in network namespaces: relaying through an introducer, restart from the peer
// cache after kill -9, mesh IP collision repair, self-healing of routes and nft rules, and
// foreign state left alone. Everything is asserted on kernel state read back (ip -j, nft -j,
// wg show dump) and on traffic sent between the namespaces.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "tests/support/process.h"
#include "wg/key.h"

namespace wgmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// A -- B -- C: A and C have no underlay path; B is the introducer, A and C force relaying;
// C advertises kLanNetwork.
struct ThreeNodeMesh {
    TempDir dir;
    Node a{"a", dir.path()};
    Node b{"b", dir.path()};
    Node c{"c", dir.path()};

    ThreeNodeMesh() {
        connect_veth(a.ns(), "ul-ab", "192.168.61.1/24", b.ns(), "ul-ba", "192.168.61.2/24");
        connect_veth(b.ns(), "ul-bc", "192.168.62.2/24", c.ns(), "ul-cb", "192.168.62.1/24");
        add_lan(c.ns());
        const std::vector<std::string> lan = {kLanNetwork};
        a.write_peers(
            json::array({b.as_peer("192.168.61.2", true), c.as_peer("192.168.62.1", false, lan)}));
        b.write_peers(
            json::array({a.as_peer("192.168.61.1"), c.as_peer("192.168.62.1", false, lan)}));
        c.write_peers(json::array({b.as_peer("192.168.62.2", true), a.as_peer("192.168.61.1")}));
    }

    void start() {
        b.start({"--introducer"});
        a.start({"--force-relay"});
        c.start({"--force-relay", "--advertise-routes", kLanNetwork});
    }

    std::string logs() const { return a.log_text() + b.log_text() + c.log_text(); }
};

TEST(MeshE2e, ThreeNodesRelayThroughIntroducer) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    ThreeNodeMesh mesh;
    mesh.start();
    auto& [dir, a, b, c] = mesh;

    // A cannot reach C's underlay address at all.
    EXPECT_NE(a.ns().exec({"ip", "route", "get", "192.168.62.1"}).exit_code, 0);

    ASSERT_TRUE(eventually([&] { return a.has_route(kLanNetwork, b.mesh_ip()); }, kConverge))
        << "A: " << a.owned_routes().dump() << "\n"
        << mesh.logs();
    const std::set<std::string> c_allowed = {c.mesh_ip() + "/32", kLanNetwork};
    EXPECT_TRUE(eventually([&] { return b.wg_entry_allows(c, c_allowed); }, kConverge))
        << "B's wg dump lacks C's allowed IPs";
    EXPECT_TRUE(eventually([&] { return a.wg_entry_allows(b, c_allowed); }, kConverge))
        << "A's entry for B lacks C's allowed IPs";
    // B routes C's network directly to C.
    EXPECT_TRUE(eventually([&] { return b.has_route(kLanNetwork, c.mesh_ip()); }, kConverge));

    UdpEcho echo(c.ns(), kLanAddress);
    EXPECT_TRUE(eventually([&] { return udp_round_trip(a.ns(), kLanAddress); }, kConverge))
        << "no traffic from A to C's network through B\n"
        << mesh.logs();
    // The datagram went A -> B -> C: A's kernel sends it to B's mesh IP.
    const auto route = a.ns().exec_checked({"ip", "-j", "route", "get", kLanAddress});
    EXPECT_EQ(json::parse(route).at(0).value("gateway", ""), b.mesh_ip()) << route;
}

json read_cache_file(const Node& node) {
    std::ifstream in(node.cache_file());
    return json::parse(in);
}

std::map<std::string, std::int64_t> last_seen_by_key(const json& cache) {
    std::map<std::string, std::int64_t> result;
    for (const auto& peer : cache.at("peers")) {
        result[peer.at("wg_pubkey").get<std::string>()] = peer.at("last_seen").get<std::int64_t>();
    }
    return result;
}

TEST(MeshE2e, KilledDaemonRestoresPeersFromCacheWithoutRefreshingLastSeen) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    ThreeNodeMesh mesh;
    mesh.start();
    auto& [dir, a, b, c] = mesh;
    UdpEcho echo(c.ns(), kLanAddress);
    ASSERT_TRUE(eventually([&] { return udp_round_trip(a.ns(), kLanAddress); }, kConverge))
        << mesh.logs();

    // A saves its cache (what the 5-minute saver does), then crashes.
    ASSERT_TRUE(a.call("cache.save").has_value());
    const auto before = last_seen_by_key(read_cache_file(a));
    ASSERT_EQ(before.size(), 2u) << read_cache_file(a).dump();
    a.stop(SIGKILL);
    // Make the crash a reboot: the interface and wireguard-go are gone, so everything A
    // has afterwards comes from the restored cache.
    a.ns().exec({"ip", "link", "del", a.interface()});
    const auto pids = a.ns().exec({"ip", "netns", "pids", a.ns().name()});
    std::istringstream pid_list(pids.out);
    for (std::string pid; pid_list >> pid;) {
        run_command({"kill", "-9", pid});
    }
    ASSERT_TRUE(eventually(
        [&] {
            return a.ns().exec({"ip", "link", "show", a.interface()}).exit_code != 0;
        },
        kDaemonBound));

    // Seconds pass so a refreshed last_seen would differ.
    std::this_thread::sleep_for(2s);
    a.write_peers(json::array());
    a.start({"--force-relay"});

    EXPECT_TRUE(eventually([&] { return udp_round_trip(a.ns(), kLanAddress); }, kConverge))
        << "no traffic after the restore\n"
        << a.log_text();
    EXPECT_TRUE(a.has_route(kLanNetwork, b.mesh_ip()));
    // No source has confirmed the peers: they are still the cache's.
    const auto peers = a.call("peers");
    ASSERT_TRUE(peers.has_value());
    ASSERT_EQ(peers->size(), 2u) << peers->dump();
    for (const auto& peer : *peers) {
        EXPECT_FALSE(peer.value("confirmed", true)) << peer.dump();
        EXPECT_EQ(peer.at("last_seen").get<std::int64_t>(),
                  before.at(peer.at("wg_pubkey").get<std::string>()))
            << "the restore refreshed last_seen: " << peer.dump();
    }
    ASSERT_TRUE(a.call("cache.save").has_value());
    EXPECT_EQ(last_seen_by_key(read_cache_file(a)), before);
}

// Two keys whose plain derivations give the same mesh IP in this mesh.
std::pair<wg::Key, wg::Key> colliding_keys() {
    std::map<std::string, wg::Key> by_ip;
    for (int i = 0; i < 20000; ++i) {
        auto key = wg::Key::generate_private();
        const auto ip = test_addressing().mesh_ip(key.public_key()).to_string();
        const auto [it, inserted] = by_ip.emplace(ip, key);
        if (!inserted) {
            return {it->second, key};
        }
    }
    throw std::runtime_error("no mesh IP collision among 20000 keys");
}

TEST(MeshE2e, CollidingMeshIpsAreRepaired) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    const auto [first, second] = colliding_keys();
    TempDir dir;
    Node x("x", dir.path(), first);
    Node y("y", dir.path(), second);
    ASSERT_EQ(x.mesh_ip(), y.mesh_ip());
    Node& lower = x.public_key() < y.public_key() ? x : y;
    Node& higher = x.public_key() < y.public_key() ? y : x;
    const std::string moved = test_addressing().mesh_ip(higher.public_key(), 1).to_string();

    connect_veth(x.ns(), "ul-xy", "192.168.63.1/24", y.ns(), "ul-yx", "192.168.63.2/24");
    x.write_peers(json::array({y.as_peer("192.168.63.2")}));
    y.write_peers(json::array({x.as_peer("192.168.63.1")}));
    x.start();
    y.start();

    EXPECT_TRUE(eventually(
        [&] {
            const auto v4 = higher.interface_v4();
            return v4.size() == 1 && v4.count(moved);
        },
        kConverge))
        << "the higher key did not move to its nonce=1 address " << moved << "\n"
        << higher.log_text();
    EXPECT_EQ(lower.interface_v4(), std::set<std::string>{lower.mesh_ip()});
    // The lower node routes the moved address to the higher key's entry.
    EXPECT_TRUE(
        eventually([&] { return lower.wg_entry_allows(higher, {moved + "/32"}); }, kConverge))
        << lower.log_text();

    UdpEcho at_higher(higher.ns(), moved);
    EXPECT_TRUE(eventually([&] { return udp_round_trip(lower.ns(), moved); }, kConverge))
        << lower.log_text() << higher.log_text();
    UdpEcho at_lower(lower.ns(), lower.mesh_ip());
    EXPECT_TRUE(
        eventually([&] { return udp_round_trip(higher.ns(), lower.mesh_ip()); }, kConverge));
    // The chosen nonce survives a restart.
    higher.stop();
    higher.start();
    EXPECT_TRUE(eventually([&] { return higher.interface_v4() == std::set<std::string>{moved}; },
                           kConverge));
}

// A and B on one link, B advertising the LAN.
struct TwoNodeMesh {
    TempDir dir;
    Node a{"a", dir.path()};
    Node b{"b", dir.path()};

    TwoNodeMesh() {
        connect_veth(a.ns(), "ul-ab", "192.168.64.1/24", b.ns(), "ul-ba", "192.168.64.2/24");
        add_lan(b.ns());
        a.write_peers(json::array({b.as_peer("192.168.64.2", false, {kLanNetwork})}));
        b.write_peers(json::array({a.as_peer("192.168.64.1")}));
    }
};

TEST(MeshE2e, DeletedRouteAndNftTableAreRestoredWithinOneCycle) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TwoNodeMesh mesh;
    auto& [dir, a, b] = mesh;
    a.start();
    b.start({"--advertise-routes", kLanNetwork});
    ASSERT_TRUE(eventually([&] { return a.has_route(kLanNetwork, b.mesh_ip()); }, kConverge))
        << a.log_text();
    ASSERT_TRUE(eventually([&] { return forwarding_rule_present(a); }, kConverge))
        << a.ns().exec({"nft", "list", "ruleset"}).out << a.log_text();

    {
        Paused paused(a);
        a.ns().exec_checked({"ip", "route", "del", kLanNetwork, "dev", a.interface()});
        ASSERT_FALSE(a.has_route(kLanNetwork, b.mesh_ip()));
    }
    EXPECT_TRUE(eventually([&] { return a.has_route(kLanNetwork, b.mesh_ip()); }, kOneCycle))
        << "route not restored within one cycle";

    {
        Paused paused(a);
        a.ns().exec_checked({"nft", "flush", "table", "inet", nft_table(a)});
        ASSERT_FALSE(forwarding_rule_present(a));
    }
    EXPECT_TRUE(eventually([&] { return forwarding_rule_present(a); }, kOneCycle))
        << "flushed table not refilled within one cycle";

    {
        Paused paused(a);
        a.ns().exec_checked({"nft", "delete", "table", "inet", nft_table(a)});
        ASSERT_FALSE(forwarding_rule_present(a));
    }
    EXPECT_TRUE(eventually([&] { return forwarding_rule_present(a); }, kOneCycle))
        << "deleted table not recreated within one cycle";

    UdpEcho echo(b.ns(), kLanAddress);
    EXPECT_TRUE(eventually([&] { return udp_round_trip(a.ns(), kLanAddress); }, kConverge));
}

// The routes that are not ours, by destination, with the fields that identify them.
std::set<std::string> foreign_routes(const Node& node) {
    std::set<std::string> result;
    const auto out = node.ns().exec_checked({"ip", "-j", "route", "show", "table", "all"});
    for (const auto& route : json::parse(out)) {
        const auto dst = route.value("dst", "");
        if (dst.rfind("10.201.", 0) == 0 || dst.rfind("10.202.", 0) == 0 ||
            dst.rfind("10.203.", 0) == 0) {
            result.insert(route.dump());
        }
    }
    return result;
}

TEST(MeshE2e, ForeignRoutesAndRulesSurviveStopAndCleanup) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TwoNodeMesh mesh;
    auto& [dir, a, b] = mesh;
    const auto& ns = a.ns();
    // Foreign state: a static route, a route with our protocol number on another interface,
    // one with our protocol in another table, a foreign nft table and an iptables-nft style
    // FORWARD chain (where the daemon adds its own tagged accept).
    ns.exec_checked(
        {"ip", "route", "add", "10.201.0.0/24", "via", "192.168.64.2", "proto", "static"});
    ns.exec_checked({"ip", "route", "add", "10.202.0.0/24", "via", "192.168.64.2", "proto", "150"});
    ns.exec_checked({"ip", "route", "add", "10.203.0.0/24", "via", "192.168.64.2", "proto", "150",
                     "table", "100"});
    ns.exec_checked({"nft", "-f", "-"},
                    "table inet foreign {\n"
                    "  chain passthrough {\n"
                    "    type filter hook forward priority 0; policy accept;\n"
                    "    iifname \"ul-ab\" counter accept comment \"foreign\"\n"
                    "  }\n"
                    "}\n"
                    "table ip filter {\n"
                    "  chain FORWARD {\n"
                    "    type filter hook forward priority 0; policy accept;\n"
                    "    iifname \"eth9\" counter drop comment \"not ours\"\n"
                    "  }\n"
                    "}\n");
    const auto routes_before = foreign_routes(a);
    ASSERT_EQ(routes_before.size(), 3u);
    const auto foreign_before = nft_rules(a, "inet", "foreign");
    const auto filter_before = nft_rules(a, "ip", "filter");
    ASSERT_EQ(foreign_before.size(), 1u);
    ASSERT_EQ(filter_before.size(), 1u);

    a.start();
    b.start({"--advertise-routes", kLanNetwork});
    ASSERT_TRUE(eventually([&] { return a.has_route(kLanNetwork, b.mesh_ip()); }, kConverge))
        << a.log_text();
    ASSERT_TRUE(eventually([&] { return forwarding_rule_present(a); }, kConverge))
        << a.ns().exec({"nft", "list", "ruleset"}).out << a.log_text();
    // The daemon's tagged accept went into the FORWARD chain next to the foreign rule.
    EXPECT_TRUE(eventually([&] { return nft_rules(a, "ip", "filter").size() == 2; }, kConverge))
        << json(nft_rules(a, "ip", "filter")).dump();
    EXPECT_EQ(foreign_routes(a), routes_before);

    a.stop();
    EXPECT_EQ(foreign_routes(a), routes_before);
    EXPECT_EQ(nft_rules(a, "inet", "foreign"), foreign_before);
    for (const auto& rule : filter_before) {
        const auto now = nft_rules(a, "ip", "filter");
        EXPECT_NE(std::find(now.begin(), now.end(), rule), now.end()) << json(now).dump();
    }

    const auto cleanup =
        ns.exec({WGMESH_BINARY, "cleanup", "--interface", a.interface(), "--state-dir",
                 a.state_dir().string(), "--socket", a.socket().string()});
    ASSERT_EQ(cleanup.exit_code, 0) << cleanup.out << cleanup.err;
    EXPECT_EQ(foreign_routes(a), routes_before);
    EXPECT_EQ(nft_rules(a, "inet", "foreign"), foreign_before);
    EXPECT_EQ(nft_rules(a, "ip", "filter"), filter_before);
    // And ours is gone.
    EXPECT_FALSE(forwarding_rule_present(a));
    EXPECT_EQ(ns.exec({"ip", "link", "show", a.interface()}).exit_code == 0
                  ? a.owned_routes().size()
                  : 0u,
              0u);
}

}  // namespace
}  // namespace wgmesh::test
