// Issue 7, "the UAPI socket disappears or wireguard-go dies": real `wgmesh join` daemons on
// wireguard-go in network namespaces. A's interface is broken from outside (wireguard-go
// killed, its socket file removed, the link deleted); the daemon recreates it and the mesh
// converges again: link, one wireguard-go, B's peer entry, A's mesh addresses, the owned
// route to B's LAN, traffic. An interface the daemon adopted is reported, never deleted.
// Everything is read back from the kernel (ip -j, wg show dump), /proc and the state files.
// A runs with --wireguard-backend userspace, so the suite means the same on a kernel that has
// WireGuard.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "tools/wgmesh/daemon/interface_state.h"

namespace wgmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

fs::path uapi_socket(const Node& node) {
    return fs::path("/var/run/wireguard") / (node.interface() + ".sock");
}

// Moves the node's UAPI socket file aside, as a cleaner of /var/run would: unlike removing
// it (wireguard-go watches the file with inotify and exits when it is deleted), wireguard-go
// keeps running and holding its link, but nobody can reach it any more. The moved file is
// removed on destruction.
class SocketMovedAside {
  public:
    explicit SocketMovedAside(const Node& node)
        : from_(uapi_socket(node)), to_(from_.string() + ".moved-aside") {
        fs::rename(from_, to_);
    }
    ~SocketMovedAside() {
        std::error_code ignored;
        fs::remove(to_, ignored);
    }
    SocketMovedAside(const SocketMovedAside&) = delete;
    SocketMovedAside& operator=(const SocketMovedAside&) = delete;
    const fs::path& moved() const { return to_; }
    void put_back() const { fs::rename(to_, from_); }

  private:
    fs::path from_;
    fs::path to_;
};

bool link_exists(const Node& node) {
    return node.ns().exec({"ip", "link", "show", "dev", node.interface()}).exit_code == 0;
}

// A zombie counts as gone: whoever inherited it reaps it when it likes.
bool process_gone(pid_t pid) {
    std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat_file, line)) {
        return true;
    }
    const auto paren = line.rfind(')');
    return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z' ||
           line[paren + 2] == 'X';
}

bool has_signal(std::uint64_t mask, int signal) {
    return (mask >> (signal - 1)) & 1u;
}

// A and B on a veth; B advertises kLanNetwork, so A holds an owned route to it through B.
pid_t only_wireguard_go(const Node& node) {
    const auto pids = node.wireguard_go_pids();
    EXPECT_EQ(pids.size(), 1u);
    return pids.empty() ? -1 : pids.front();
}

struct TwoNodeMesh {
    TempDir dir;
    Node a{"a", dir.path()};
    Node b{"b", dir.path()};

    TwoNodeMesh() {
        connect_veth(a.ns(), "ul-ab", "192.168.71.1/24", b.ns(), "ul-ba", "192.168.71.2/24");
        add_lan(b.ns());
        a.write_peers(json::array({b.as_peer("192.168.71.2", false, {kLanNetwork})}));
        b.write_peers(json::array({a.as_peer("192.168.71.1")}));
    }

    void start() {
        a.start(kUserspaceBackend);
        b.start({"--advertise-routes", kLanNetwork});
    }

    // A's side of the mesh is complete; `why` says what is missing when it is not.
    bool a_converged(std::string& why) const {
        if (!link_exists(a)) {
            why = "A's link is missing";
            return false;
        }
        if (a.wireguard_go_pids().size() != 1) {
            why = std::to_string(a.wireguard_go_pids().size()) + " wireguard-go serve A";
            return false;
        }
        if (!a.wg_entry_allows(b, {b.mesh_ip() + "/32", b.mesh_ipv6() + "/128", kLanNetwork})) {
            why = "A's wg entry for B lacks its allowed IPs";
            return false;
        }
        if (!a.interface_v4().count(a.mesh_ip()) || !a.interface_v6().count(a.mesh_ipv6())) {
            why = "A's mesh addresses are missing";
            return false;
        }
        if (!a.has_route(kLanNetwork, b.mesh_ip())) {
            why = "A's route to B's LAN is missing: " + a.owned_routes().dump();
            return false;
        }
        return true;
    }

    // Waits until A converged and a datagram makes it to B's LAN and back.
    void expect_a_converges() {
        std::string why;
        EXPECT_TRUE(eventually([&] { return a_converged(why); }, kConverge)) << why << "\n"
                                                                             << a.log_text();
        UdpEcho echo(b.ns(), kLanAddress);
        EXPECT_TRUE(eventually([&] { return udp_round_trip(a.ns(), kLanAddress); }, kConverge))
            << "no UDP round trip A -> B's LAN";
        EXPECT_TRUE(a.alive()) << a.log_text();
    }

    // A converged again on a new wireguard-go with its socket, and `old_pid` has ended.
    void expect_a_converges_on_a_new_wireguard_go(pid_t old_pid) {
        expect_a_converges();
        EXPECT_TRUE(eventually([&] { return process_gone(old_pid); }, kOneCycle))
            << "the old wireguard-go " << old_pid << " still runs";
        EXPECT_NE(only_wireguard_go(a), old_pid);
        EXPECT_TRUE(fs::exists(uapi_socket(a)));
    }
};

// A --userspace program that records the signal state it was started with and then becomes
// wireguard-go. Perl (essential on Debian) leaves the inherited state alone, unlike dash,
// which clears the mask, and wireguard-go, whose Go runtime resets it.
fs::path recording_userspace_program(const fs::path& dir) {
    const auto script = dir / "recording-wireguard-go";
    std::ofstream(script) << "#!/usr/bin/perl\n"
                          << "open(my $status, '<', '/proc/self/status') or die;\n"
                          << "open(my $out, '>>', '" << (dir / "spawn-signals").string()
                          << "') or die;\n"
                          << "print $out grep(/^Sig(Blk|Ign):/, <$status>);\n"
                          << "close($out);\n"
                          << "exec('wireguard-go', @ARGV) or die;\n";
    fs::permissions(script, fs::perms::owner_all);
    return script;
}

// The signal masks of every start recorded by recording_userspace_program, in order.
std::vector<std::pair<std::uint64_t, std::uint64_t>> recorded_spawns(const fs::path& dir) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> spawns;
    std::ifstream in(dir / "spawn-signals");
    std::string blocked;
    std::string ignored;
    while (std::getline(in, blocked) && std::getline(in, ignored)) {
        spawns.emplace_back(std::stoull(blocked.substr(7), nullptr, 16),
                            std::stoull(ignored.substr(7), nullptr, 16));
    }
    return spawns;
}

TEST(FaultInterface, KilledWireguardGoIsRestartedWithCleanSignalsAndTheMeshConverges) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TwoNodeMesh mesh;
    const auto program = recording_userspace_program(mesh.dir.path());
    auto flags = kUserspaceBackend;
    flags.insert(flags.end(), {"--userspace", program.string()});
    mesh.a.start(flags);
    mesh.b.start({"--advertise-routes", kLanNetwork});
    mesh.expect_a_converges();
    const pid_t old_pid = only_wireguard_go(mesh.a);
    ASSERT_GT(old_pid, 0);

    ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return process_gone(old_pid); }, kDaemonBound));

    mesh.expect_a_converges();
    const pid_t new_pid = only_wireguard_go(mesh.a);
    EXPECT_NE(new_pid, old_pid);
    // `wgmesh status` tells the operator it happened, and that it is over.
    const auto health = mesh.a.call("status").value().at("interface_health");
    EXPECT_EQ(health.at("recreations"), 1) << health.dump();
    EXPECT_TRUE(health.at("fault").is_null()) << health.dump();
    const auto shown =
        mesh.a.ns().exec({WGMESH_BINARY, "status", "--socket", mesh.a.socket().string()});
    EXPECT_NE(shown.out.find("recreated 1 time(s) since start"), std::string::npos) << shown.out;
    EXPECT_EQ(shown.out.find("BROKEN"), std::string::npos) << shown.out;
    // Started mid-run by a daemon that blocks SIGTERM/SIGINT/SIGHUP and ignores SIGPIPE.
    const auto spawns = recorded_spawns(mesh.dir.path());
    ASSERT_EQ(spawns.size(), 2u);
    const auto [blocked, ignored] = spawns.back();
    for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) {
        EXPECT_FALSE(has_signal(blocked, signal)) << "signal " << signal << " blocked";
        EXPECT_FALSE(has_signal(ignored, signal)) << "signal " << signal << " ignored";
    }
}

// wireguard-go exits by itself when its socket file is deleted; the daemon sees the link gone.
TEST(FaultInterface, RemovedUapiSocketIsRecreatedAndTheOldWireguardGoEnds) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TwoNodeMesh mesh;
    mesh.start();
    mesh.expect_a_converges();
    const pid_t old_pid = only_wireguard_go(mesh.a);
    ASSERT_GT(old_pid, 0);

    ASSERT_TRUE(fs::remove(uapi_socket(mesh.a)));

    mesh.expect_a_converges_on_a_new_wireguard_go(old_pid);
}

// The socket is unreachable while wireguard-go still runs and holds the link: the daemon must
// stop it (deleting its link) before starting a new one, or the old process would leak.
TEST(FaultInterface, UnreachableUapiSocketIsReplacedAndTheOldWireguardGoStopped) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TwoNodeMesh mesh;
    mesh.start();
    mesh.expect_a_converges();
    const pid_t old_pid = only_wireguard_go(mesh.a);
    ASSERT_GT(old_pid, 0);

    const SocketMovedAside moved(mesh.a);
    ASSERT_FALSE(process_gone(old_pid));

    mesh.expect_a_converges_on_a_new_wireguard_go(old_pid);
}

TEST(FaultInterface, DeletedLinkIsRecreatedAndTheMeshConverges) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TwoNodeMesh mesh;
    mesh.start();
    mesh.expect_a_converges();
    const pid_t old_pid = only_wireguard_go(mesh.a);

    mesh.a.ns().exec_checked({"ip", "link", "del", mesh.a.interface()});

    mesh.expect_a_converges();
    EXPECT_TRUE(eventually([&] { return process_gone(old_pid); }, kOneCycle));
    // Still the daemon's own interface, for `wgmesh cleanup`.
    const auto state = cli::read_interface_state(
        cli::interface_state_path(mesh.a.state_dir(), mesh.a.interface()));
    ASSERT_TRUE(state.has_value());
    EXPECT_TRUE(state->created);
}

TEST(FaultInterface, AdoptedInterfaceWithUnreachableSocketIsReportedNotDeleted) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    TempDir dir;
    Node a{"a", dir.path()};
    // Someone else's interface: wireguard-go started before the daemon.
    a.ns().exec_checked({"wireguard-go", a.interface()});
    const pid_t foreign_pid = only_wireguard_go(a);
    ASSERT_GT(foreign_pid, 0);
    // The daemon goes first, so it cannot mistake the end of the foreign process for a fault.
    struct StopForeign {
        Node& node;
        pid_t pid;
        ~StopForeign() {
            node.stop();
            ::kill(pid, SIGTERM);
        }
    } stop_foreign{a, foreign_pid};

    a.start(kUserspaceBackend);
    ASSERT_TRUE(eventually([&] { return a.interface_v4().count(a.mesh_ip()) > 0; }, kConverge))
        << a.log_text();
    const auto state =
        cli::read_interface_state(cli::interface_state_path(a.state_dir(), a.interface()));
    ASSERT_TRUE(state.has_value());
    ASSERT_FALSE(state->created) << "the daemon should have adopted the interface";

    const SocketMovedAside moved(a);
    const auto cycles_before = a.call("status").value().value("cycles", 0);
    // Enough cycles for a wrong repair to have happened.
    ASSERT_TRUE(eventually(
        [&] {
            const auto status = a.call("status");
            return status && status->value("cycles", 0) >= cycles_before + 3;
        },
        kConverge));

    EXPECT_TRUE(link_exists(a)) << "the adopted interface was deleted";
    EXPECT_FALSE(process_gone(foreign_pid)) << "the adopted interface's wireguard-go was stopped";
    EXPECT_EQ(a.wireguard_go_pids(), std::vector<pid_t>{foreign_pid});
    EXPECT_FALSE(fs::exists(uapi_socket(a))) << "a second wireguard-go took the interface";
    EXPECT_TRUE(fs::exists(moved.moved()));
    EXPECT_TRUE(a.alive());
    // The failure is reported: in the cycle's errors on the control socket, and in the log as
    // one line for the whole episode, not one per cycle.
    const auto status = a.call("status");
    ASSERT_TRUE(status.has_value());
    EXPECT_FALSE(status->at("last_cycle").at("errors").empty()) << status->dump();
    const auto& health = status->at("interface_health");
    EXPECT_NE(health.value("fault", "").find("does not answer"), std::string::npos)
        << status->dump();
    EXPECT_EQ(health.at("recreations"), 0) << status->dump();
    const auto shown = a.ns().exec({WGMESH_BINARY, "status", "--socket", a.socket().string()});
    EXPECT_NE(shown.out.find("interface:   BROKEN: "), std::string::npos) << shown.out;
    const auto log = a.log_text();
    std::size_t reports = 0;
    for (auto at = log.find("does not answer"); at != std::string::npos;
         at = log.find("does not answer", at + 1)) {
        ++reports;
    }
    EXPECT_EQ(reports, 1u) << log;

    // Its owner fixes it: the daemon picks it up again, still without deleting anything.
    moved.put_back();
    EXPECT_TRUE(eventually(
        [&] {
            const auto now = a.call("status");
            return now && now->at("last_cycle").at("errors").empty();
        },
        kConverge))
        << a.log_text();
    EXPECT_EQ(a.wireguard_go_pids(), std::vector<pid_t>{foreign_pid});
}

}  // namespace
}  // namespace wgmesh::test
