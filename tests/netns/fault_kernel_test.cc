// Kernel-side faults with the real daemon (issue 7, SPEC 15): a daemon killed with SIGKILL
// in the middle of its first cycles, routes and nft rules flushed by someone else, and
// routes the kernel refuses. Every assertion reads the kernel back (ip -j, nft -j, wg show
// dump) or the control socket; the one log check is the "no log flood" requirement itself.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_peers.h"
#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "wg/key.h"

namespace wgmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// WireGuard peers as "key allowed,ips" lines, one per dump line (a duplicate would show).
std::multiset<std::string> wg_peers(const Node& node) {
    std::multiset<std::string> peers;
    for (const auto& [key, allowed] : node.wg_peer_entries()) {
        std::string entry = key;
        for (const auto& part : allowed) {
            entry += " " + part;
        }
        peers.insert(entry);
    }
    return peers;
}

std::multiset<std::string> expected_wg_peers(const std::vector<FakePeer>& peers) {
    std::multiset<std::string> entries;
    for (const auto& peer : peers) {
        std::set<std::string> allowed(peer.networks.begin(), peer.networks.end());
        allowed.insert(peer.mesh_ip + "/32");
        allowed.insert(peer.mesh_ipv6 + "/128");
        std::string entry = peer.pub;
        for (const auto& part : allowed) {
            entry += " " + part;
        }
        entries.insert(entry);
    }
    return entries;
}

// Global addresses of the mesh interface, both families.
std::multiset<std::string> interface_addresses(const Node& node) {
    std::multiset<std::string> result;
    const auto out =
        node.ns().exec({"ip", "-j", "addr", "show", "dev", node.interface(), "scope", "global"});
    if (out.exit_code != 0) {
        return result;
    }
    for (const auto& link : json::parse(out.out)) {
        for (const auto& info : link.value("addr_info", json::array())) {
            if (!info.contains("local")) {
                continue;  // ip prints the addresses the scope filter left out as {}
            }
            result.insert(info.value("local", "") + "/" +
                          std::to_string(info.value("prefixlen", 0)));
        }
    }
    return result;
}

std::multiset<std::string> mesh_addresses(const Node& node) {
    return {node.mesh_ip() + "/" + std::to_string(test_addressing().network_v4().length()),
            node.mesh_ipv6() + "/64"};
}

std::size_t nft_chains(const Node& node, const std::string& family, const std::string& table) {
    const auto out = node.ns().exec({"nft", "-j", "list", "table", family, table});
    if (out.exit_code != 0) {
        return 0;
    }
    std::size_t chains = 0;
    const auto listing = json::parse(out.out);
    for (const auto& item : listing.at("nftables")) {
        chains += item.contains("chain") ? 1 : 0;
    }
    return chains;
}

bool table_exists(const Node& node, const std::string& family, const std::string& table) {
    return node.ns().exec({"nft", "list", "table", family, table}).exit_code == 0;
}

std::size_t tagged_rules(const std::vector<json>& rules, const Node& node) {
    std::size_t count = 0;
    for (const auto& rule : rules) {
        count += rule.value("comment", "") == "wgmesh:" + node.interface() ? 1 : 0;
    }
    return count;
}

std::size_t cycles(const Node& node) {
    const auto status = node.call("status");
    return status ? status->value("cycles", std::size_t{0}) : 0;
}

std::vector<std::string> cycle_errors(const Node& node) {
    const auto status = node.call("status");
    if (!status || !status->contains("last_cycle") || (*status)["last_cycle"].is_null()) {
        return {};
    }
    return (*status)["last_cycle"].value("errors", std::vector<std::string>{});
}

bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
    for (const auto& line : lines) {
        if (line.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++count;
    }
    return count;
}

// Waits until the daemon has finished `n` more cycles than now.
bool cycles_pass(const Node& node, std::size_t n, std::chrono::seconds timeout) {
    const auto start = cycles(node);
    return eventually([&] { return cycles(node) >= start + n; }, timeout);
}

std::size_t common(const std::multiset<std::string>& a, const std::multiset<std::string>& b) {
    std::size_t count = 0;
    for (const auto& item : a) {
        count += b.count(item) > 0 ? 1 : 0;
    }
    return count;
}

// The items of `a` (with their multiplicity) that `b` lacks.
std::multiset<std::string> missing_from(const std::multiset<std::string>& a,
                                        const std::multiset<std::string>& b) {
    std::multiset<std::string> result;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(),
                        std::inserter(result, result.end()));
    return result;
}

TEST(FaultKernel, SigkillMidReconcileThenRestartConvergesWithoutDuplicates) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    const auto seed = std::random_device{}();
    SCOPED_TRACE("seed " + std::to_string(seed) + " (kill delays come from std::mt19937)");
    std::mt19937 random(seed);

    TempDir dir;
    Node node("k", dir.path());
    add_underlay(node);
    add_docker_like_filter(node);
    // 150 peers, 3 networks each: 450 routes and 150 WireGuard entries to set up. Each
    // start alternates with a variant that moves half of the peers' networks, so every
    // start has hundreds of routes and AllowedIPs to change and a kill lands in the work.
    const auto peers = make_peers(node, 150, 3);
    auto variant = peers;
    for (std::size_t i = 0; i < variant.size(); i += 2) {
        for (auto& network : variant[i].networks) {
            network.replace(0, 6, "172.21");
        }
    }

    // Two undisturbed starts, killed right after their first cycle, set the time scale: the
    // first creates the interface, the second (with the other file) is a restart like those
    // below, whose first cycle is what the kills aim at.
    const auto time_first_cycle = [&](const std::vector<FakePeer>& file) {
        node.write_peers(peers_json(file));
        const auto spawned = std::chrono::steady_clock::now();
        node.spawn();
        // Polled every 5 ms (eventually() polls every 200 ms): a restart's cycle is short.
        while (cycles(node) < 1) {
            if (std::chrono::steady_clock::now() - spawned > kConverge) {
                ADD_FAILURE() << "no first cycle\n" << node.log_text();
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
        node.stop(SIGKILL);
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - spawned);
    };
    time_first_cycle(variant);
    const auto first_cycle = time_first_cycle(peers);
    ASSERT_FALSE(HasFailure());

    std::uniform_int_distribution<long> delay_ms(0, first_cycle.count() + 50);
    std::string rounds;
    for (int round = 0; round < 10; ++round) {
        const auto& wanted = round % 2 == 0 ? variant : peers;
        node.write_peers(peers_json(wanted));
        const long delay = delay_ms(random);
        node.spawn();
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        node.stop(SIGKILL);
        // Where the kill landed, for the record: how much of this start's routes and
        // WireGuard entries were in place.
        rounds += std::to_string(delay) +
                  "ms: " + std::to_string(common(kernel_routes(node), expected_routes(wanted))) +
                  " routes, " + std::to_string(common(wg_peers(node), expected_wg_peers(wanted))) +
                  " peers; ";
    }
    SCOPED_TRACE("first cycle after " + std::to_string(first_cycle.count()) + "ms; kills at " +
                 rounds);
    std::cout << "[ info     ] first cycle after " << first_cycle.count() << "ms; kills at "
              << rounds << "\n";

    node.write_peers(peers_json(peers));
    node.start();
    const auto want_routes = expected_routes(peers);
    const auto want_peers = expected_wg_peers(peers);
    const auto converged = [&] {
        return kernel_routes(node) == want_routes && wg_peers(node) == want_peers &&
               forwarding_rule_present(node) &&
               tagged_rules(nft_rules(node, "ip", "filter"), node) == 1;
    };
    ASSERT_TRUE(eventually(converged, kConverge))
        << "routes missing:\n"
        << dump(missing_from(want_routes, kernel_routes(node))) << "routes extra:\n"
        << dump(missing_from(kernel_routes(node), want_routes)) << "peers missing:\n"
        << dump(missing_from(want_peers, wg_peers(node))) << "peers extra:\n"
        << dump(missing_from(wg_peers(node), want_peers)) << node.log_text();
    // And it stays so: nothing is added twice by later cycles.
    ASSERT_TRUE(cycles_pass(node, 2, kConverge));

    const auto routes = kernel_routes(node);
    EXPECT_EQ(routes, want_routes) << "routes:\n" << dump(routes);
    const auto wg = wg_peers(node);
    EXPECT_EQ(wg.size(), peers.size());
    EXPECT_EQ(wg, want_peers);
    // Our table: one base chain with exactly one rule, the tagged relay accept.
    const auto own = nft_rules(node, "inet", nft_table(node));
    EXPECT_EQ(nft_chains(node, "inet", nft_table(node)), 1u);
    ASSERT_EQ(own.size(), 1u) << json(own).dump();
    EXPECT_EQ(tagged_rules(own, node), 1u) << json(own).dump();
    // The foreign FORWARD chain holds our accept exactly once and nothing else of ours.
    const auto filter = nft_rules(node, "ip", "filter");
    EXPECT_EQ(filter.size(), 1u) << json(filter).dump();
    EXPECT_EQ(tagged_rules(filter, node), 1u) << json(filter).dump();
    EXPECT_EQ(interface_addresses(node), mesh_addresses(node));
    // One wireguard-go, none on a kernel that has WireGuard (the auto backend).
    EXPECT_EQ(node.wireguard_go_pids().size(), node.on_kernel_wireguard() ? 0u : 1u);
}

// A few peers with two networks each, all routes landed and the relay rules in place.
struct SmallMesh {
    TempDir dir;
    Node node{"f", dir.path()};
    std::vector<FakePeer> peers = make_peers(node, 4, 2);

    SmallMesh() {
        add_underlay(node);
        add_docker_like_filter(node);
        node.write_peers(peers_json(peers));
    }

    bool routes_converged() const { return kernel_routes(node) == expected_routes(peers); }

    void start_and_converge() {
        node.start();
        ASSERT_TRUE(eventually([&] { return routes_converged() && forwarding_rule_present(node); },
                               kConverge))
            << dump(kernel_routes(node)) << node.log_text();
    }
};

// The kernel's prefix route of an address on the mesh interface as ip shows it, or null.
json prefix_route(const Node& node, const std::string& family, const std::string& dst) {
    const auto out = node.ns().exec_checked(
        {"ip", "-j", family, "route", "show", "dev", node.interface(), "proto", "kernel"});
    for (const auto& route : json::parse(out)) {
        if (route.value("dst", "") == dst) {
            return route;
        }
    }
    return nullptr;
}

bool prefix_route_present(const Node& node, const std::string& family, const std::string& dst) {
    return !prefix_route(node, family, dst).is_null();
}

// ENOBUFS: a burst of foreign route changes overflows a small monitor buffer while one of
// our routes is deleted. The lost events force a full resync that puts it back; with the
// cycle and the backstop resync an hour away, nothing else could.
TEST(FaultKernel, LostKernelEventsForceAFullResyncThatRestoresOwnedState) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    SmallMesh mesh;
    auto& node = mesh.node;
    node.start({"--kernel-monitor-buffer", "4096", "--reconcile-interval", "3600s",
                "--resync-interval", "3600s"});
    ASSERT_TRUE(eventually([&] { return mesh.routes_converged(); }, kConverge))
        << dump(kernel_routes(node)) << node.log_text();
    const auto owned = *kernel_routes(node).begin();
    const std::string victim = owned.substr(0, owned.find(' '));

    const auto batch = mesh.dir.path() / "burst.batch";
    {
        std::ofstream out(batch);
        for (int i = 0; i < 3000; ++i) {
            out << "route add 198.18." << i / 250 << "." << i % 250 << "/32 dev ul0\n";
        }
        for (int i = 0; i < 3000; ++i) {
            out << "route del 198.18." << i / 250 << "." << i % 250 << "/32 dev ul0\n";
        }
    }
    {
        Paused paused(node);
        node.ns().exec_checked({"ip", "-batch", batch.string()});
        node.ns().exec_checked({"ip", "route", "del", victim, "dev", node.interface()});
        ASSERT_FALSE(mesh.routes_converged());
    }
    EXPECT_TRUE(eventually([&] { return mesh.routes_converged(); }, kOneCycle))
        << "not restored after the lost events:\n"
        << dump(kernel_routes(node)) << node.log_text();
    const auto status = node.call("status");
    ASSERT_TRUE(status);
    const auto& kernel = status->at("kernel");
    EXPECT_EQ(kernel.at("monitor"), "on");
    ASSERT_TRUE(kernel.at("last_full_resync").is_object()) << kernel.dump();
    EXPECT_EQ(kernel.at("last_full_resync").at("reason"), "events lost") << kernel.dump();
    EXPECT_GE(kernel.at("full_resyncs").get<int>(), 2) << "start and the lost events";
}

TEST(FaultKernel, NftFlushRulesetRestoresOursButNotTheForeignTable) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    SmallMesh mesh;
    mesh.start_and_converge();
    auto& node = mesh.node;
    ASSERT_TRUE(eventually([&] { return tagged_rules(nft_rules(node, "ip", "filter"), node) == 1; },
                           kConverge));

    {
        Paused paused(node);
        node.ns().exec_checked({"nft", "flush", "ruleset"});
        ASSERT_FALSE(table_exists(node, "inet", nft_table(node)));
        ASSERT_FALSE(table_exists(node, "ip", "filter"));
    }
    EXPECT_TRUE(eventually([&] { return forwarding_rule_present(node); }, kOneCycle))
        << "our table not restored within one cycle\n"
        << node.log_text();
    // Later cycles still leave the foreign table gone: it was never ours to recreate.
    ASSERT_TRUE(cycles_pass(node, 2, kConverge));
    EXPECT_FALSE(table_exists(node, "ip", "filter"))
        << node.ns().exec({"nft", "list", "ruleset"}).out;
    EXPECT_EQ(nft_rules(node, "inet", nft_table(node)).size(), 1u);
    EXPECT_TRUE(mesh.routes_converged());
}

TEST(FaultKernel, RouteFlushesAreRestoredWithinOneCycle) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    SmallMesh mesh;
    mesh.start_and_converge();
    auto& node = mesh.node;
    const std::string network_v4 = test_addressing().network_v4().to_string();
    const std::string network_v6 = test_addressing().network_v6().to_string();
    const auto original_v4 = prefix_route(node, "-4", network_v4);
    const auto original_v6 = prefix_route(node, "-6", network_v6);
    ASSERT_FALSE(original_v4.is_null());
    ASSERT_FALSE(original_v6.is_null());

    {
        Paused paused(node);
        node.ns().exec_checked({"ip", "route", "flush", "proto", "150"});
        ASSERT_TRUE(kernel_routes(node).empty());
    }
    EXPECT_TRUE(eventually([&] { return mesh.routes_converged(); }, kOneCycle))
        << "after ip route flush proto 150:\n"
        << dump(kernel_routes(node)) << node.log_text();

    // Takes the kernel's route of the mesh subnet too: without it a gateway route through a
    // peer's mesh IP would be refused ("Nexthop has invalid gateway") unless sent on-link,
    // and the mesh addresses themselves would be unreachable.
    {
        Paused paused(node);
        node.ns().exec_checked({"ip", "route", "flush", "dev", node.interface()});
        ASSERT_TRUE(kernel_routes(node).empty());
        ASSERT_FALSE(prefix_route_present(node, "-4", network_v4));
    }
    EXPECT_TRUE(eventually(
        [&] { return mesh.routes_converged() && prefix_route_present(node, "-4", network_v4); },
        kOneCycle))
        << "after ip route flush dev " << node.interface() << ":\n"
        << dump(kernel_routes(node))
        << node.ns().exec({"ip", "route", "show", "dev", node.interface()}).out << node.log_text();
    // The restored route is the kernel's own shape: scope link, from the mesh address.
    const auto restored = prefix_route(node, "-4", network_v4);
    EXPECT_EQ(restored, original_v4);
    EXPECT_EQ(restored.value("prefsrc", ""), node.mesh_ip()) << restored.dump();
    EXPECT_EQ(restored.value("scope", ""), "link") << restored.dump();

    {
        Paused paused(node);
        node.ns().exec_checked({"ip", "-6", "route", "flush", "dev", node.interface()});
        ASSERT_FALSE(prefix_route_present(node, "-6", network_v6));
    }
    EXPECT_TRUE(eventually([&] { return prefix_route_present(node, "-6", network_v6); }, kOneCycle))
        << node.ns().exec({"ip", "-6", "route", "show", "dev", node.interface()}).out;
    EXPECT_EQ(prefix_route(node, "-6", network_v6), original_v6);
    EXPECT_TRUE(mesh.routes_converged());
    EXPECT_TRUE(cycle_errors(node).empty()) << json(cycle_errors(node)).dump();
}

TEST(FaultKernel, RefusedRouteIsReportedEachCycleLoggedOnceAndLandsWhenFreed) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    SmallMesh mesh;
    auto& node = mesh.node;
    // A foreign route with the same destination and metric: our NLM_F_EXCL add gets EEXIST.
    const std::string blocked = mesh.peers[1].networks[0];
    node.ns().exec_checked(
        {"ip", "route", "add", blocked, "via", "192.168.70.254", "dev", "ul0", "proto", "static"});
    const auto foreign = node.ns().exec_checked({"ip", "-j", "route", "show", blocked});

    node.start();
    auto others = expected_routes(mesh.peers);
    others.erase(blocked + " via " + mesh.peers[1].mesh_ip);
    ASSERT_TRUE(eventually([&] { return kernel_routes(node) == others; }, kConverge))
        << dump(kernel_routes(node)) << node.log_text();

    // Reported in every cycle's status, while the cycles go on.
    const std::string needle = "route " + blocked;
    std::size_t last_cycle = 0;
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(cycles_pass(node, 1, kConverge));
        const auto status = node.call("status");
        ASSERT_TRUE(status.has_value());
        const auto now = status->value("cycles", std::size_t{0});
        EXPECT_GT(now, last_cycle);
        last_cycle = now;
        const auto errors = status->at("last_cycle").value("errors", std::vector<std::string>{});
        EXPECT_TRUE(any_contains(errors, needle)) << status->dump();
        EXPECT_TRUE(any_contains(errors, "File exists")) << status->dump();
    }
    // Logged once, not once per cycle.
    EXPECT_EQ(occurrences(node.log_text(), "adding " + needle), 1u) << node.log_text();
    // The foreign route was left exactly as it was; the rest of ours are in place.
    EXPECT_EQ(node.ns().exec_checked({"ip", "-j", "route", "show", blocked}), foreign);
    EXPECT_EQ(kernel_routes(node), others);

    node.ns().exec_checked({"ip", "route", "del", blocked, "dev", "ul0", "proto", "static"});
    EXPECT_TRUE(eventually([&] { return mesh.routes_converged(); }, kOneCycle))
        << dump(kernel_routes(node)) << node.log_text();
    EXPECT_TRUE(eventually([&] { return !any_contains(cycle_errors(node), needle); }, kOneCycle))
        << json(cycle_errors(node)).dump();
}

}  // namespace
}  // namespace wgmesh::test
