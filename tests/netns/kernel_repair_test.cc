// The kernel monitor's repairs with the real daemon (SPEC 8): routes, the mesh addresses, our
// nft table and our tagged FORWARD accept removed by someone else come back through the event
// path alone. Every daemon here runs with --reconcile-interval 3600s --resync-interval 3600s,
// so no cycle or backstop resync can do the repair within a test's bounds; the polling
// baseline (--no-kernel-monitor) is shown to wait for its cycle. Assertions read the kernel
// back (ip -j, nft -j) or the control socket's status, never the daemon's log.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "wg/key.h"

extern char** environ;

namespace wgmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Only the event path repairs within a test: the cycle and the backstop resync are an hour
// away.
const std::vector<std::string> kEventsOnly = {"--reconcile-interval", "3600s", "--resync-interval",
                                              "3600s"};
constexpr std::size_t kQuietCycles = 20;
// Past the fight threshold (5 within 10 s), few enough that the backoff (debounce doubling
// per removal past the threshold) stays within seconds.
constexpr int kFightDeletions = 12;
constexpr std::size_t kFightThreshold = 5;
const std::vector<std::string> kDriftKinds = {"route", "address", "forwarding", "link"};

// A peer that exists only as a peers-file entry, its endpoint an unused address on the
// node's underlay link.
struct FakePeer {
    std::string pub;
    std::string mesh_ip;
    std::vector<std::string> networks;
    std::string endpoint;
};

// Keys whose mesh IPs differ from each other and from the node's, so that no collision moves
// a peer's routes.
std::vector<FakePeer> make_peers(const Node& node, int count, int networks_each) {
    std::vector<FakePeer> peers;
    std::set<std::string> taken = {node.mesh_ip()};
    for (int i = 0; i < count; ++i) {
        auto key = wg::Key::generate_private().public_key();
        while (!taken.insert(test_addressing().mesh_ip(key).to_string()).second) {
            key = wg::Key::generate_private().public_key();
        }
        FakePeer peer;
        peer.pub = key.to_base64();
        peer.mesh_ip = test_addressing().mesh_ip(key).to_string();
        peer.endpoint = "192.168.71." + std::to_string(i + 2);
        for (int j = 0; j < networks_each; ++j) {
            peer.networks.push_back("172.22." + std::to_string(i) + "." + std::to_string(j * 32) +
                                    "/27");
        }
        peers.push_back(std::move(peer));
    }
    return peers;
}

json peers_json(const std::vector<FakePeer>& peers) {
    json file = json::array();
    for (const auto& peer : peers) {
        file.push_back({{"wg_pubkey", peer.pub},
                        {"endpoint", peer.endpoint + ":51820"},
                        {"routable_networks", peer.networks}});
    }
    return file;
}

// "network via gateway", one entry per network.
std::multiset<std::string> expected_routes(const std::vector<FakePeer>& peers) {
    std::multiset<std::string> routes;
    for (const auto& peer : peers) {
        for (const auto& network : peer.networks) {
            routes.insert(network + " via " + peer.mesh_ip);
        }
    }
    return routes;
}

// The node's proto-150 routes as "network via gateway", duplicates kept; one through another
// interface shows its device so it cannot pass for ours.
std::multiset<std::string> kernel_routes(const Node& node) {
    std::multiset<std::string> routes;
    for (const auto& family : {"-4", "-6"}) {
        const auto out = node.ns().exec_checked(
            {"ip", "-j", family, "route", "show", "table", "all", "proto", "150"});
        for (const auto& route : json::parse(out)) {
            std::string line = route.value("dst", "?");
            line += " via ";
            line += route.value("gateway", "?");
            if (route.value("dev", "") != node.interface()) {
                line += " dev ";
                line += route.value("dev", "?");
            }
            routes.insert(line);
        }
    }
    return routes;
}

std::string dump(const std::multiset<std::string>& set) {
    std::string text;
    for (const auto& item : set) {
        text += "  ";
        text += item;
        text += "\n";
    }
    return text;
}

// The mesh addresses as "address/length", as `ip addr del` takes them.
std::string mesh_v4(const Node& node) {
    std::string address = node.mesh_ip();
    address += "/";
    address += std::to_string(test_addressing().network_v4().length());
    return address;
}

std::string mesh_v6(const Node& node) {
    std::string address = node.mesh_ipv6();
    address += "/64";
    return address;
}

std::string tag(const Node& node) {
    std::string comment = "wgmesh:";
    comment += node.interface();
    return comment;
}

// The handles of our tagged rules in the iptables-nft style FORWARD chain (nft -j lists
// handles).
std::vector<std::int64_t> tagged_forward_handles(const Node& node) {
    std::vector<std::int64_t> handles;
    const auto out =
        node.ns().exec({"nft", "-j", "-a", "list", "chain", "ip", "filter", "FORWARD"});
    if (out.exit_code != 0) {
        return handles;
    }
    const auto listing = json::parse(out.out);
    for (const auto& item : listing.at("nftables")) {
        if (item.contains("rule") && item["rule"].value("comment", "") == tag(node)) {
            handles.push_back(item["rule"].value("handle", std::int64_t{-1}));
        }
    }
    return handles;
}

// Our table with its one rule, the tagged relay accept.
bool own_table_whole(const Node& node) {
    const auto rules = nft_rules(node, "inet", nft_table(node));
    return rules.size() == 1 && rules.front().value("comment", "") == tag(node);
}

// An iptables-nft style filter table as Docker leaves it: FORWARD drops by policy.
void add_docker_like_filter(const Node& node) {
    node.ns().exec_checked({"nft", "add", "table", "ip", "filter"});
    node.ns().exec_checked({"nft", "add", "chain", "ip", "filter", "FORWARD",
                            "{ type filter hook forward priority 0; policy drop; }"});
}

// The underlay link the fake peers' endpoints live on.
void add_underlay(const Node& node) {
    const auto& ns = node.ns();
    ns.exec_checked({"ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0p"});
    ns.exec_checked({"ip", "addr", "add", "192.168.71.1/24", "dev", "ul0"});
    ns.exec_checked({"ip", "link", "set", "ul0", "up"});
    ns.exec_checked({"ip", "link", "set", "ul0p", "up"});
}

// `wgmesh join` for a Node with flags of the test's choosing (Node::start fixes the reconcile
// interval at 1 s, and the join flags may be given once only). SIGKILLed and reaped on
// destruction, before the Node removes its interface.
class RepairDaemon {
  public:
    RepairDaemon(const Node& node, const std::vector<std::string>& flags) {
        std::vector<std::string> argv = {"ip",
                                         "netns",
                                         "exec",
                                         node.ns().name(),
                                         WGMESH_BINARY,
                                         "join",
                                         "--interface",
                                         node.interface(),
                                         "--state-dir",
                                         node.state_dir().string(),
                                         "--peers-file",
                                         (node.state_dir() / "peers.json").string(),
                                         "--control-socket",
                                         node.socket().string(),
                                         "--log-level",
                                         "debug"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        std::vector<char*> args;
        for (auto& arg : argv) {
            args.push_back(arg.data());
        }
        args.push_back(nullptr);
        // The secret travels in the environment, as in production.
        std::vector<std::string> env_strings = {"WGMESH_SECRET=" + kMeshSecret};
        for (char** e = environ; *e != nullptr; ++e) {
            if (std::string_view(*e).rfind("WGMESH_SECRET=", 0) != 0) {
                env_strings.emplace_back(*e);
            }
        }
        std::vector<char*> env;
        for (auto& entry : env_strings) {
            env.push_back(entry.data());
        }
        env.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, node.log().c_str(),
                                         O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        // `ip netns exec` execs the daemon in place: pid_ is the daemon's own.
        const int rc = ::posix_spawnp(&pid_, "ip", &actions, nullptr, args.data(), env.data());
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            pid_ = -1;
            ADD_FAILURE() << "cannot spawn the daemon of " << node.interface();
        }
    }
    ~RepairDaemon() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    RepairDaemon(const RepairDaemon&) = delete;
    RepairDaemon& operator=(const RepairDaemon&) = delete;

    bool alive() const {
        int status = 0;
        return pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == 0;
    }
    void signal(int number) const {
        if (pid_ > 0) {
            ::kill(pid_, number);
        }
    }

    // Holds the daemon (SIGSTOP) while a fault is made and checked, so that its repair (a few
    // milliseconds) cannot undo the fault in between; the notifications wait in its socket
    // and are read when it is released (SIGCONT).
    class Held {
      public:
        explicit Held(const RepairDaemon& daemon) : daemon_(daemon) { daemon_.signal(SIGSTOP); }
        ~Held() { daemon_.signal(SIGCONT); }
        Held(const Held&) = delete;
        Held& operator=(const Held&) = delete;

      private:
        const RepairDaemon& daemon_;
    };

  private:
    pid_t pid_ = -1;
};

// A node with a few peers advertising two networks each and an iptables-nft style FORWARD
// chain (made before the daemon starts), converged: routes, addresses, our table and the
// tagged accept all in place.
struct RepairMesh {
    TempDir dir;
    Node node{"r", dir.path()};
    std::vector<FakePeer> peers = make_peers(node, 4, 2);
    std::unique_ptr<RepairDaemon> daemon;  // destroyed first

    RepairMesh() {
        add_underlay(node);
        add_docker_like_filter(node);
        node.write_peers(peers_json(peers));
    }

    bool routes_whole() const { return kernel_routes(node) == expected_routes(peers); }
    bool addresses_whole() const {
        return node.interface_v4().count(node.mesh_ip()) == 1 &&
               node.interface_v6().count(node.mesh_ipv6()) == 1;
    }
    bool forwarding_whole() const {
        return own_table_whole(node) && tagged_forward_handles(node).size() == 1;
    }
    bool whole() const { return routes_whole() && addresses_whole() && forwarding_whole(); }

    std::string describe() const {
        std::string text = "routes:\n";
        text += dump(kernel_routes(node));
        text += node.ns().exec({"ip", "addr", "show", "dev", node.interface()}).out;
        text += node.ns().exec({"nft", "list", "ruleset"}).out;
        text += node.log_text();
        return text;
    }

    void start_and_converge(const std::vector<std::string>& flags) {
        daemon = std::make_unique<RepairDaemon>(node, flags);
        ASSERT_TRUE(eventually([&] { return daemon->alive() && node.call("status").has_value(); },
                               kDaemonBound))
            << "the daemon does not answer\n"
            << node.log_text();
        ASSERT_TRUE(eventually([&] { return whole(); }, kConverge)) << describe();
    }

    json kernel_status() const {
        const auto status = node.call("status");
        return status ? status->value("kernel", json::object()) : json::object();
    }
    std::size_t cycles() const {
        const auto status = node.call("status");
        return status ? status->value("cycles", std::size_t{0}) : 0;
    }
    std::size_t drift(const std::string& kind, const std::string& counter) const {
        const auto kernel = kernel_status();
        if (!kernel.contains("drift") || !kernel["drift"].contains(kind)) {
            return 0;
        }
        return kernel["drift"][kind].value(counter, std::size_t{0});
    }
};

// Whether `status` lists `address` among the mesh addresses, present on the interface.
bool status_shows_present(const json& kernel, const std::string& address) {
    for (const auto& entry : kernel.value("mesh_addresses", json::array())) {
        if (entry.value("address", "") == address) {
            return entry.value("present", false);
        }
    }
    return false;
}

TEST(KernelRepair, DeletedRouteIsPutBack) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    ASSERT_NO_FATAL_FAILURE(mesh.start_and_converge(kEventsOnly));
    const auto& node = mesh.node;
    const auto& peer = mesh.peers[1];
    const std::string& network = peer.networks[0];

    {
        RepairDaemon::Held held(*mesh.daemon);
        node.ns().exec_checked({"ip", "route", "del", network, "via", peer.mesh_ip, "dev",
                                node.interface(), "proto", "150"});
        ASSERT_FALSE(node.has_route(network, peer.mesh_ip));
    }
    EXPECT_TRUE(eventually([&] { return node.has_route(network, peer.mesh_ip); }, kOneCycle))
        << "route " << network << " not put back\n"
        << mesh.describe();
    EXPECT_TRUE(mesh.routes_whole()) << mesh.describe();
    EXPECT_TRUE(eventually([&] { return mesh.drift("route", "repairs") >= 1; }, kOneCycle))
        << mesh.kernel_status().dump(2);
}

TEST(KernelRepair, FlushedOwnedRoutesAreAllPutBack) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    ASSERT_NO_FATAL_FAILURE(mesh.start_and_converge(kEventsOnly));
    const auto& node = mesh.node;

    {
        RepairDaemon::Held held(*mesh.daemon);
        node.ns().exec_checked({"ip", "route", "flush", "proto", "150"});
        ASSERT_TRUE(kernel_routes(node).empty()) << dump(kernel_routes(node));
    }
    EXPECT_TRUE(eventually([&] { return mesh.routes_whole(); }, kOneCycle))
        << "after ip route flush proto 150:\n"
        << mesh.describe();
}

TEST(KernelRepair, DeletedMeshAddressesArePutBack) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    ASSERT_NO_FATAL_FAILURE(mesh.start_and_converge(kEventsOnly));
    const auto& node = mesh.node;

    {
        RepairDaemon::Held held(*mesh.daemon);
        node.ns().exec_checked({"ip", "addr", "del", mesh_v4(node), "dev", node.interface()});
        ASSERT_EQ(node.interface_v4().count(node.mesh_ip()), 0u);
    }
    EXPECT_TRUE(
        eventually([&] { return node.interface_v4().count(node.mesh_ip()) == 1; }, kOneCycle))
        << "IPv4 mesh address not put back\n"
        << mesh.describe();
    EXPECT_TRUE(eventually(
        [&] { return status_shows_present(mesh.kernel_status(), mesh_v4(node)); }, kOneCycle))
        << mesh.kernel_status().dump(2);
    // The kernel dropped the routes through the subnet with the address; they are back too.
    EXPECT_TRUE(eventually([&] { return mesh.routes_whole(); }, kOneCycle)) << mesh.describe();

    {
        RepairDaemon::Held held(*mesh.daemon);
        node.ns().exec_checked({"ip", "-6", "addr", "del", mesh_v6(node), "dev", node.interface()});
        ASSERT_EQ(node.interface_v6().count(node.mesh_ipv6()), 0u);
    }
    EXPECT_TRUE(
        eventually([&] { return node.interface_v6().count(node.mesh_ipv6()) == 1; }, kOneCycle))
        << "IPv6 mesh address not put back\n"
        << mesh.describe();
    EXPECT_TRUE(eventually(
        [&] { return status_shows_present(mesh.kernel_status(), mesh_v6(node)); }, kOneCycle))
        << mesh.kernel_status().dump(2);
    EXPECT_TRUE(mesh.whole()) << mesh.describe();
}

TEST(KernelRepair, DeletedNftTableIsPutBackWithItsRule) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    ASSERT_NO_FATAL_FAILURE(mesh.start_and_converge(kEventsOnly));
    const auto& node = mesh.node;

    {
        RepairDaemon::Held held(*mesh.daemon);
        node.ns().exec_checked({"nft", "delete", "table", "inet", nft_table(node)});
        ASSERT_NE(node.ns().exec({"nft", "list", "table", "inet", nft_table(node)}).exit_code, 0);
    }
    EXPECT_TRUE(eventually([&] { return own_table_whole(node); }, kOneCycle))
        << "table inet " << nft_table(node) << " not put back\n"
        << mesh.describe();
    // The foreign FORWARD chain was not touched by the repair: still our one accept.
    EXPECT_EQ(tagged_forward_handles(node).size(), 1u) << mesh.describe();
}

TEST(KernelRepair, DeletedTaggedForwardAcceptIsPutBackOnce) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    ASSERT_NO_FATAL_FAILURE(mesh.start_and_converge(kEventsOnly));
    const auto& node = mesh.node;
    const auto handles = tagged_forward_handles(node);
    ASSERT_EQ(handles.size(), 1u) << mesh.describe();
    const auto repairs = mesh.drift("forwarding", "repairs");

    {
        RepairDaemon::Held held(*mesh.daemon);
        node.ns().exec_checked({"nft", "delete", "rule", "ip", "filter", "FORWARD", "handle",
                                std::to_string(handles[0])});
        ASSERT_TRUE(tagged_forward_handles(node).empty());
    }
    EXPECT_TRUE(eventually(
        [&] {
            return tagged_forward_handles(node).size() == 1 &&
                   mesh.drift("forwarding", "repairs") > repairs;
        },
        kOneCycle))
        << "tagged accept not put back\n"
        << mesh.describe() << mesh.kernel_status().dump(2);
    // Once the repair is counted it has finished: exactly one accept, and our table whole.
    EXPECT_EQ(tagged_forward_handles(node).size(), 1u) << mesh.describe();
    EXPECT_TRUE(own_table_whole(node)) << mesh.describe();
}

TEST(KernelRepair, OwnWritesCauseNoRepairs) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    // Cycles every 200 ms, so that many pass; only foreign changes may cause a repair.
    ASSERT_NO_FATAL_FAILURE(
        mesh.start_and_converge({"--reconcile-interval", "200ms", "--resync-interval", "3600s"}));
    const auto before = mesh.kernel_status();
    ASSERT_TRUE(before.contains("drift")) << before.dump(2);
    const auto start = mesh.cycles();
    ASSERT_TRUE(eventually([&] { return mesh.cycles() >= start + kQuietCycles; }, kConverge))
        << mesh.describe();
    const auto after = mesh.kernel_status();
    for (const auto& kind : kDriftKinds) {
        EXPECT_EQ(after["drift"][kind].value("repairs", std::size_t{1}), 0u) << kind << "\n"
                                                                             << after.dump(2);
        EXPECT_EQ(after["drift"][kind].value("events", std::size_t{0}),
                  before["drift"][kind].value("events", std::size_t{0}))
            << kind << "\n"
            << before.dump(2) << after.dump(2);
    }
    EXPECT_TRUE(after.value("fights", json::array()).empty()) << after.dump(2);
    EXPECT_TRUE(mesh.whole()) << mesh.describe();
}

TEST(KernelRepair, RouteFightIsReportedAndTheRouteComesBack) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    ASSERT_NO_FATAL_FAILURE(mesh.start_and_converge(kEventsOnly));
    const auto& node = mesh.node;
    const auto& peer = mesh.peers[2];
    const std::string& network = peer.networks[1];

    const auto fight_reported = [&] {
        for (const auto& fight : mesh.kernel_status().value("fights", json::array())) {
            if (fight.value("kind", "") == "route" &&
                fight.value("removals", std::size_t{0}) >= kFightThreshold) {
                return true;
            }
        }
        return false;
    };
    // Someone else deletes the route each time it is back, a dozen times. The fight is looked
    // for after each deletion past the threshold: on a slow machine the last deletions may
    // be spread over more than the fight window.
    bool fight_seen = false;
    for (int i = 0; i < kFightDeletions; ++i) {
        ASSERT_TRUE(eventually([&] { return node.has_route(network, peer.mesh_ip); }, kOneCycle))
            << "route not back after deletion " << i << "\n"
            << mesh.describe();
        node.ns().exec_checked({"ip", "route", "del", network, "via", peer.mesh_ip, "dev",
                                node.interface(), "proto", "150"});
        if (i + 1 >= static_cast<int>(kFightThreshold) && !fight_seen) {
            fight_seen = eventually(fight_reported, 1s);
        }
    }
    EXPECT_TRUE(fight_seen || eventually(fight_reported, kOneCycle))
        << mesh.kernel_status().dump(2);
    EXPECT_TRUE(eventually([&] { return node.has_route(network, peer.mesh_ip); }, kOneCycle))
        << "route not back after the fight\n"
        << mesh.describe();
    EXPECT_TRUE(mesh.whole()) << mesh.describe();
    EXPECT_TRUE(mesh.daemon->alive());
}

TEST(KernelRepair, WithoutTheMonitorOnlyACycleRepairs) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    RepairMesh mesh;
    auto flags = kEventsOnly;
    flags.push_back("--no-kernel-monitor");
    ASSERT_NO_FATAL_FAILURE(mesh.start_and_converge(flags));
    const auto& node = mesh.node;
    const auto& peer = mesh.peers[0];
    const std::string& network = peer.networks[0];
    const auto cycles = mesh.cycles();

    node.ns().exec_checked({"ip", "route", "del", network, "via", peer.mesh_ip, "dev",
                            node.interface(), "proto", "150"});
    // Nothing watches: no event is counted, no cycle runs, the route stays missing.
    const auto kernel = mesh.kernel_status();
    EXPECT_EQ(kernel.value("monitor", "").rfind("off", 0), 0u) << kernel.dump(2);
    for (const auto& kind : kDriftKinds) {
        EXPECT_EQ(kernel["drift"][kind].value("events", std::size_t{1}), 0u) << kernel.dump(2);
        EXPECT_EQ(kernel["drift"][kind].value("repairs", std::size_t{1}), 0u) << kernel.dump(2);
    }
    EXPECT_EQ(mesh.cycles(), cycles);
    EXPECT_FALSE(node.has_route(network, peer.mesh_ip)) << mesh.describe();

    // SIGHUP runs a cycle, which (without a monitor) verifies every route.
    mesh.daemon->signal(SIGHUP);
    EXPECT_TRUE(eventually([&] { return node.has_route(network, peer.mesh_ip); }, kOneCycle))
        << "the SIGHUP cycle did not put the route back\n"
        << mesh.describe();
    EXPECT_GT(mesh.cycles(), cycles);
    EXPECT_TRUE(mesh.whole()) << mesh.describe();
}

}  // namespace
}  // namespace wgmesh::test
