// Real `wgmesh join` daemons for netns scenario tests: a Node is a namespace, a state dir
// with its node key placed before start, a peers file and the daemon process, plus the
// read-back helpers the scenarios assert on (ip -j, nft -j, wg show dump, the control
// socket). Shared by the end-to-end and the fault suites.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mesh/mesh_address.h"
#include "netlink/ip_address.h"
#include "tests/support/netns.h"
#include "wg/key.h"

namespace wgmesh::test {

inline const std::string kMeshSecret = "wgmesh://v1/e2e-test-secret-0123456789abcdef";
inline constexpr const char* kLanNetwork = "10.99.0.0/24";
inline constexpr const char* kLanAddress = "10.99.0.1";
inline constexpr std::uint16_t kEchoPort = 40999;
inline constexpr std::chrono::seconds kConverge{60};
// Nodes run with --reconcile-interval 1s, so a repair takes a cycle or two; the bound is for a
// loaded 2-core machine under a sanitizer (a wait ends as soon as its condition holds).
inline constexpr std::chrono::seconds kOneCycle{30};
// A daemon's start (its control socket answers), a control call's answer, a process's exit.
inline constexpr std::chrono::seconds kDaemonBound{60};
inline constexpr std::uint8_t kOwnedRouteProtocol = 150;
// Join flags for a daemon whose test kills wireguard-go, reads its UAPI socket or otherwise
// needs the userspace backend, also on a kernel that has WireGuard.
inline const std::vector<std::string> kUserspaceBackend = {"--wireguard-backend", "userspace"};

// The mesh addressing of kMeshSecret.
const mesh::MeshAddressing& test_addressing();

// Polls `condition` every 200 ms until it holds or `timeout` passed.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Empty when daemon scenarios can run; otherwise why not.
std::string daemon_scenarios_unavailable_reason();

#define WGMESH_REQUIRE_DAEMON_SCENARIOS()                                              \
    do {                                                                               \
        WGMESH_REQUIRE_NETNS();                                                        \
        const std::string why = ::wgmesh::test::daemon_scenarios_unavailable_reason(); \
        if (!why.empty())                                                              \
            GTEST_SKIP() << why;                                                       \
    } while (0)

// A temporary directory, removed with everything in it.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

class Node {
  public:
    Node(const std::string& tag, const std::filesystem::path& root,
         std::optional<wg::Key> private_key = {});
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    const TestNamespace& ns() const { return *ns_; }
    const std::string& interface() const { return interface_; }
    const std::filesystem::path& state_dir() const { return state_dir_; }
    std::filesystem::path socket() const { return state_dir_ / "control.sock"; }
    std::filesystem::path log() const { return state_dir_ / "daemon.log"; }
    std::filesystem::path cache_file() const {
        return daemon_state_dir() / (interface_ + "-peers.json");
    }
    const wg::Key& public_key() const { return public_key_; }
    std::string pub() const { return public_key_.to_base64(); }
    std::string mesh_ip() const { return mesh_ip_.to_string(); }
    pid_t pid() const { return pid_; }

    // This node as a peers-file entry reachable at `endpoint`.
    nlohmann::json as_peer(const std::string& endpoint, bool introducer = false,
                           const std::vector<std::string>& networks = {}) const;
    void write_peers(const nlohmann::json& peers) const;

    // Starts `wgmesh join` (reconcile interval 1 s unless `extra` gives one, debug log into
    // log()) and waits until it answers on its control socket; `extra` flags are appended.
    void start(const std::vector<std::string>& extra = {});
    // Starts without waiting for the control socket.
    void spawn(const std::vector<std::string>& extra = {});
    // Signals the daemon and reaps it; SIGKILL is the crash case.
    void stop(int signal = SIGTERM);
    bool alive() const;

    // A control call's result; nullopt when the daemon does not answer or replies an error.
    std::optional<nlohmann::json> call(
        const std::string& method, const nlohmann::json& params = nlohmann::json::object()) const;
    // The whole reply (ok, result or error); throws when the daemon does not answer.
    nlohmann::json call_raw(const std::string& method,
                            const nlohmann::json& params = nlohmann::json::object()) const;
    std::string log_text() const;

    // `ip -j route show proto 150` on this node.
    nlohmann::json owned_routes() const;
    bool has_route(const std::string& dst, const std::string& gateway) const;
    // Every peer line of `wg show IF dump` as (key, allowed IPs), in dump order, duplicates
    // kept.
    std::vector<std::pair<std::string, std::set<std::string>>> wg_peer_entries() const;
    // Allowed IPs per peer key from `wg show IF dump`.
    std::map<std::string, std::set<std::string>> wg_allowed_ips() const;
    bool wg_entry_allows(const Node& peer, const std::set<std::string>& wanted) const;
    // IPv4 / IPv6 addresses on the mesh interface (`ip -j addr`).
    std::set<std::string> interface_v4() const;
    std::set<std::string> interface_v6() const;
    std::string mesh_ipv6() const;
    // The PIDs of the wireguard-go process serving this node's interface.
    std::vector<pid_t> wireguard_go_pids() const;
    // Whether the interface is a kernel WireGuard link (ip -d link: kind "wireguard"), as the
    // daemon's auto backend picks on a kernel that has WireGuard.
    bool on_kernel_wireguard() const;

    // Gives the daemon `dir` as its --state-dir (the node key is copied there) while the
    // control socket, log and peers file stay in state_dir(): a fault test can remount `dir`
    // read-only, which files held open for writing there would prevent.
    void use_state_dir(const std::filesystem::path& dir);
    const std::filesystem::path& daemon_state_dir() const {
        return daemon_state_dir_.empty() ? state_dir_ : daemon_state_dir_;
    }
    // Sends `first`, waits up to `delay` for the daemon to exit, sends `second` if it has
    // not, and reaps it; returns the wait status (SIGTERM then SIGKILL: a crash during
    // shutdown).
    int stop_with(int first, std::chrono::microseconds delay, int second);

  private:
    std::unique_ptr<TestNamespace> ns_;
    std::string interface_;
    std::filesystem::path state_dir_;
    wg::Key private_key_;
    wg::Key public_key_;
    netlink::IpAddress mesh_ip_;
    pid_t pid_ = -1;
    std::filesystem::path daemon_state_dir_;
};

// The PIDs of the processes whose argv is exactly {.../wireguard-go, interface}.
std::vector<pid_t> wireguard_go_pids(const std::string& interface);

// "wgmesh-<iface>": the node's own nft table (family inet).
std::string nft_table(const Node& node);
// Whether the node's own table holds its relay accept rule.
bool forwarding_rule_present(const Node& node);
// The rules of one nft table in the node's namespace as JSON without their handles, in
// listing order, duplicates kept; empty when the table does not exist.
std::vector<nlohmann::json> nft_rules(const Node& node, const std::string& family,
                                      const std::string& table);

// A UDP echo server on address:kEchoPort inside a namespace, on its own thread (setns is
// per thread).
class UdpEcho {
  public:
    UdpEcho(const TestNamespace& ns, const std::string& address);
    ~UdpEcho();
    UdpEcho(const UdpEcho&) = delete;
    UdpEcho& operator=(const UdpEcho&) = delete;

  private:
    void stop();
    std::atomic<bool> stopping_{false};
    int fd_ = -1;
    std::thread thread_;
};

// One datagram from `from` to address:kEchoPort and its echo back, within a second.
bool udp_round_trip(const TestNamespace& from, const std::string& address);

// A LAN interface "lan0" holding kLanAddress: a dummy, or a veth pair kept inside the
// namespace where the kernel lacks dummy.
void add_lan(const TestNamespace& ns);

// Holds the daemon (SIGSTOP) while a fault is injected and checked, so that neither a cycle
// nor the kernel monitor's repair (milliseconds) can undo it in between; "restored within"
// is measured from the release (SIGCONT), when the daemon reads the queued notifications.
class Paused {
  public:
    // A node without a running daemon (pid -1) must not make kill() signal every process.
    explicit Paused(const Node& node) : pid_(node.pid()) {
        if (pid_ > 0) {
            ::kill(pid_, SIGSTOP);
        }
    }
    ~Paused() {
        if (pid_ > 0) {
            ::kill(pid_, SIGCONT);
        }
    }
    Paused(const Paused&) = delete;
    Paused& operator=(const Paused&) = delete;

  private:
    pid_t pid_;
};

}  // namespace wgmesh::test
