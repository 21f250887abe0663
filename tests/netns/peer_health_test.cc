// Peer health with real daemons, wireguard-go and the TCP mesh probe in namespaces: a peer
// that does not answer its probes goes offline after 8 failures and its routes leave the
// kernel, then comes back by itself once it answers; and two nodes advertising one LAN fail
// over to each other when the winner dies, and back when it returns. Read back from the
// kernel (ip -j route), the control socket and traffic between the namespaces.
#include "mesh/peer_health.h"

#include <signal.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "tests/support/process.h"
#include "wg/key.h"

namespace wgmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Failover takes 8 failed probes, each up to a few 1.2 s probe timeouts, then one cycle;
// the bound is for a loaded 2-core machine under a sanitizer (waits end when their
// condition holds).
constexpr auto kFailoverBound = 90s;

// Two private keys whose public keys are ordered by their base64 text (the route winner).
std::pair<wg::Key, wg::Key> ordered_private_keys() {
    auto first = wg::Key::generate_private();
    auto second = wg::Key::generate_private();
    if (second.public_key().to_base64() < first.public_key().to_base64()) {
        std::swap(first, second);
    }
    return {first, second};
}

// The "health" object `peers` shows for `peer` on `node`; null when it does not answer.
json health_of(const Node& node, const Node& peer) {
    const auto peers = node.call("peers");
    if (!peers) {
        return nullptr;
    }
    for (const auto& entry : *peers) {
        if (entry.value("wg_pubkey", "") == peer.pub()) {
            return entry.value("health", json());
        }
    }
    return nullptr;
}

bool in_state(const Node& node, const Node& peer, const std::string& state) {
    const auto health = health_of(node, peer);
    return health.is_object() && health.value("state", "") == state;
}

// The gateway of the node's route to the LAN; empty when it has none of ours.
std::string lan_gateway(const Node& node) {
    for (const auto& route : node.owned_routes()) {
        if (route.value("dst", "") == kLanNetwork) {
            return route.value("gateway", "");
        }
    }
    return "";
}

// One ICMP echo from the namespace to the LAN address, answered within a second.
bool ping_lan(const Node& from) {
    return from.ns().exec({"ping", "-c", "1", "-W", "1", kLanAddress}).exit_code == 0;
}

TEST(PeerHealth, APeerThatDoesNotAnswerGoesOfflineAfterEightFailuresAndComesBackWhenItAnswers) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TempDir dir;
    Node a("a", dir.path());
    Node b("b", dir.path());
    connect_veth(a.ns(), "ul-ab", "192.168.64.1/24", b.ns(), "ul-ba", "192.168.64.2/24");
    add_lan(b.ns());
    // A second advertiser of B's LAN that exists only in A's peers file: it puts B under
    // watch (probed every second although B never had a handshake), and never answers.
    const auto ghost_key = wg::Key::generate_private().public_key();
    const json ghost = {{"wg_pubkey", ghost_key.to_base64()},
                        {"endpoint", "192.168.64.99:51820"},
                        {"routable_networks", {kLanNetwork}}};
    a.write_peers(json::array({b.as_peer("192.168.64.2", false, {kLanNetwork}), ghost}));
    b.write_peers(json::array({a.as_peer("192.168.64.1")}));
    // B's daemon is not started: nothing answers A's probes to B.
    a.start();

    ASSERT_TRUE(eventually([&] { return !lan_gateway(a).empty(); }, kConverge))
        << "the LAN was never routed before the probes failed\n"
        << a.log_text();
    ASSERT_TRUE(eventually([&] { return in_state(a, b, "offline"); }, kFailoverBound))
        << health_of(a, b).dump() << "\n"
        << a.log_text();
    const auto offline = health_of(a, b);
    EXPECT_GE(offline.value("failures", 0u), mesh::kFailuresBeforeOffline) << offline.dump();
    EXPECT_TRUE(offline.value("failover_watch", false)) << offline.dump();
    EXPECT_TRUE(offline.at("offline_until").is_number()) << offline.dump();
    // Both advertisers are offline: no route to the LAN is left in the kernel.
    EXPECT_TRUE(eventually([&] { return lan_gateway(a).empty(); }, kOneCycle))
        << a.owned_routes().dump();
    // Never evicted: B is still in A's store.
    EXPECT_FALSE(health_of(a, b).is_null());
    const auto status = a.call("status");
    ASSERT_TRUE(status.has_value());
    EXPECT_GE(status->at("health").value("offline", 0), 2) << status->dump();
    // The human forms say so too.
    const auto peers_text = run_command({WGMESH_BINARY, "peers", "--socket", a.socket().string()});
    EXPECT_NE(peers_text.out.find("health:    OFFLINE until"), std::string::npos) << peers_text.out;
    const auto status_text =
        run_command({WGMESH_BINARY, "status", "--socket", a.socket().string()});
    EXPECT_NE(status_text.out.find("OFFLINE:     " + b.pub()), std::string::npos)
        << status_text.out;

    // B starts and answers: it comes back by itself, and its route with it.
    b.start();
    EXPECT_TRUE(eventually([&] { return in_state(a, b, "probe"); }, kFailoverBound))
        << health_of(a, b).dump() << "\n"
        << a.log_text() << b.log_text();
    EXPECT_TRUE(eventually([&] { return lan_gateway(a) == b.mesh_ip(); }, kOneCycle))
        << a.owned_routes().dump();
    EXPECT_TRUE(eventually([&] { return ping_lan(a); }, kConverge));
    const auto peers = a.call("peers");
    ASSERT_TRUE(peers.has_value());
    for (const auto& entry : *peers) {
        if (entry.value("wg_pubkey", "") == b.pub()) {
            EXPECT_TRUE(entry.contains("latency_ms")) << entry.dump();
        }
    }
}

TEST(PeerHealth, WithoutPeerProbingNothingIsProbedButTheServerStillAnswers) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TempDir dir;
    Node a("a", dir.path());
    Node b("b", dir.path());
    connect_veth(a.ns(), "ul-ab", "192.168.64.1/24", b.ns(), "ul-ba", "192.168.64.2/24");
    a.write_peers(json::array({b.as_peer("192.168.64.2")}));
    b.write_peers(json::array({a.as_peer("192.168.64.1")}));
    a.start({"--no-peer-probe"});
    b.start();

    // B's probes of A are answered: a Go peer keeps a node that does not probe.
    ASSERT_TRUE(eventually([&] { return in_state(b, a, "probe") || in_state(b, a, "handshake"); },
                           kFailoverBound))
        << health_of(b, a).dump() << "\n"
        << b.log_text();
    const auto status = a.call("status");
    ASSERT_TRUE(status.has_value());
    EXPECT_FALSE(status->at("probe").value("listening", json::array()).empty()) << status->dump();
    // A itself judges no one: no health policy runs, so nothing can be marked offline.
    EXPECT_FALSE(status->contains("health")) << status->dump();
    EXPECT_FALSE(health_of(a, b).is_object()) << health_of(a, b).dump();
}

TEST(PeerHealth, TheLanFailsOverToTheNextAdvertiserAndBack) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    const auto [lower_key, higher_key] = ordered_private_keys();
    TempDir dir;
    Node a("a", dir.path());
    Node winner("w", dir.path(), lower_key);
    Node spare("s", dir.path(), higher_key);
    connect_veth(a.ns(), "ul-aw", "192.168.65.1/24", winner.ns(), "ul-wa", "192.168.65.2/24");
    connect_veth(a.ns(), "ul-as", "192.168.66.1/24", spare.ns(), "ul-sa", "192.168.66.2/24");
    add_lan(winner.ns());
    add_lan(spare.ns());
    const std::vector<std::string> lan = {kLanNetwork};
    a.write_peers(json::array(
        {winner.as_peer("192.168.65.2", false, lan), spare.as_peer("192.168.66.2", false, lan)}));
    winner.write_peers(json::array({a.as_peer("192.168.65.1")}));
    spare.write_peers(json::array({a.as_peer("192.168.66.1")}));
    const std::vector<std::string> advertise = {"--advertise-routes", kLanNetwork};
    auto winner_flags = kUserspaceBackend;
    winner_flags.insert(winner_flags.end(), advertise.begin(), advertise.end());
    a.start();
    winner.start(winner_flags);
    spare.start(advertise);

    ASSERT_TRUE(eventually([&] { return lan_gateway(a) == winner.mesh_ip(); }, kConverge))
        << a.owned_routes().dump() << "\n"
        << a.log_text();
    ASSERT_TRUE(eventually([&] { return ping_lan(a); }, kConverge)) << a.log_text();
    ASSERT_TRUE(eventually([&] { return in_state(a, winner, "probe"); }, kConverge))
        << health_of(a, winner).dump();

    // The winner dies: its daemon stops and its wireguard-go is killed.
    winner.stop(SIGTERM);
    for (const auto pid : winner.wireguard_go_pids()) {
        ::kill(pid, SIGKILL);
    }
    const auto died = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually([&] { return lan_gateway(a) == spare.mesh_ip() && ping_lan(a); },
                           kFailoverBound))
        << "no failover to the spare\n"
        << a.owned_routes().dump() << "\n"
        << health_of(a, winner).dump() << "\n"
        << a.log_text();
    // Reported, not asserted: the time depends on the machine's load.
    std::cout << "failover: traffic through the spare "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - died)
                     .count()
              << " ms after the winner died\n";
    EXPECT_TRUE(in_state(a, winner, "offline")) << health_of(a, winner).dump();
    // WireGuard agrees with the routing table: the LAN is allowed on the spare's entry only.
    const auto allowed = a.wg_allowed_ips();
    EXPECT_TRUE(allowed.at(spare.pub()).contains(kLanNetwork));
    EXPECT_FALSE(allowed.at(winner.pub()).contains(kLanNetwork));

    // The winner comes back and takes the route again.
    winner.start(winner_flags);
    EXPECT_TRUE(eventually([&] { return lan_gateway(a) == winner.mesh_ip() && ping_lan(a); },
                           kFailoverBound))
        << "the winner did not take the LAN back\n"
        << a.owned_routes().dump() << "\n"
        << health_of(a, winner).dump() << "\n"
        << a.log_text();
}

}  // namespace
}  // namespace wgmesh::test
