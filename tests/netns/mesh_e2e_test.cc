// End-to-end scenarios of issue 5 with real `wgmesh join` daemons (WGMESH_BINARY) and
// wireguard-go in network namespaces: relaying through an introducer, restart from the peer
// cache after kill -9, mesh IP collision repair, self-healing of routes and nft rules, and
// foreign state left alone. Everything is asserted on kernel state read back (ip -j, nft -j,
// wg show dump) and on traffic sent between the namespaces.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mesh/control_server.h"
#include "mesh/derived_keys.h"
#include "mesh/mesh_address.h"
#include "mesh/secret.h"
#include "netlink/ip_address.h"
#include "tests/support/netns.h"
#include "tests/support/process.h"
#include "wg/key.h"

extern char** environ;

namespace wgmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const std::string kSecret = "wgmesh://v1/e2e-test-secret-0123456789abcdef";
constexpr const char* kLanNetwork = "10.99.0.0/24";
constexpr const char* kLanAddress = "10.99.0.1";
constexpr std::uint16_t kEchoPort = 40999;
constexpr auto kConverge = 60s;
// The daemons run with --reconcile-interval 1s; "within one cycle" gets slack for a busy CI.
constexpr auto kOneCycle = 4s;

std::string secret_bytes() {
    return mesh::parse_secret(kSecret);
}

const mesh::MeshAddressing& addressing() {
    static const mesh::MeshAddressing instance(secret_bytes(), mesh::derive_keys(secret_bytes()));
    return instance;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (condition()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(200ms);
    }
}

bool wireguard_go_missing() {
    return !program_exists("wireguard-go") || !program_exists("wg") || !program_exists("nft");
}

#define REQUIRE_E2E()                                                                     \
    do {                                                                                  \
        WGMESH_REQUIRE_NETNS();                                                           \
        if (wireguard_go_missing())                                                       \
            GTEST_SKIP() << "e2e test skipped: wireguard-go, wg or nft is not installed"; \
    } while (0)

// A temporary directory, removed with everything in it.
class TempDir {
  public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "wgmesh-e2e.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// One mesh node: a namespace, a state dir with its node key placed before start, a peers
// file and a `wgmesh join` process.
class Node {
  public:
    Node(const std::string& tag, const fs::path& root, std::optional<wg::Key> private_key = {})
        : ns_(std::make_unique<TestNamespace>(tag)),
          // Interface names share /var/run/wireguard across namespaces: make them unique.
          interface_("wge" + std::to_string(::getpid() % 100000) + tag),
          state_dir_(root / tag),
          private_key_(private_key ? *private_key : wg::Key::generate_private()),
          public_key_(private_key_.public_key()),
          mesh_ip_(addressing().mesh_ip(public_key_)) {
        fs::create_directories(state_dir_);
        fs::permissions(state_dir_, fs::perms::owner_all);
        std::ofstream key(state_dir_ / (interface_ + ".key"));
        key << private_key_.to_base64() << "\n";
        key.close();
        fs::permissions(state_dir_ / (interface_ + ".key"),
                        fs::perms::owner_read | fs::perms::owner_write);
        write_peers(json::array());
    }
    ~Node() { stop(SIGKILL); }
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    const TestNamespace& ns() const { return *ns_; }
    const std::string& interface() const { return interface_; }
    const fs::path& state_dir() const { return state_dir_; }
    fs::path socket() const { return state_dir_ / "control.sock"; }
    fs::path log() const { return state_dir_ / "daemon.log"; }
    fs::path cache_file() const { return state_dir_ / (interface_ + "-peers.json"); }
    const wg::Key& public_key() const { return public_key_; }
    std::string pub() const { return public_key_.to_base64(); }
    std::string mesh_ip() const { return mesh_ip_.to_string(); }

    // This node as a peers-file entry reachable at `endpoint`.
    json as_peer(const std::string& endpoint, bool introducer = false,
                 const std::vector<std::string>& networks = {}) const {
        json peer = {{"wg_pubkey", pub()}, {"endpoint", endpoint + ":51820"}};
        if (introducer) {
            peer["introducer"] = true;
        }
        if (!networks.empty()) {
            peer["routable_networks"] = networks;
        }
        return peer;
    }

    void write_peers(const json& peers) const {
        std::ofstream(state_dir_ / "peers.json") << peers.dump(2) << "\n";
    }

    void start(const std::vector<std::string>& extra = {}) {
        ASSERT_LT(pid_, 0) << "daemon already running";
        std::vector<std::string> argv = {"ip",
                                         "netns",
                                         "exec",
                                         ns_->name(),
                                         WGMESH_BINARY,
                                         "join",
                                         "--interface",
                                         interface_,
                                         "--state-dir",
                                         state_dir_.string(),
                                         "--peers-file",
                                         (state_dir_ / "peers.json").string(),
                                         "--control-socket",
                                         socket().string(),
                                         "--reconcile-interval",
                                         "1s",
                                         "--log-level",
                                         "debug"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        std::vector<char*> args;
        for (auto& arg : argv) {
            args.push_back(arg.data());
        }
        args.push_back(nullptr);
        // The secret travels in the environment, as in production.
        std::vector<std::string> env_strings = {"WGMESH_SECRET=" + kSecret};
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
        posix_spawn_file_actions_addopen(&actions, 1, log().c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        pid_t pid = -1;
        const int rc = ::posix_spawnp(&pid, "ip", &actions, nullptr, args.data(), env.data());
        posix_spawn_file_actions_destroy(&actions);
        ASSERT_EQ(rc, 0) << "cannot spawn the daemon";
        pid_ = pid;
        ASSERT_TRUE(eventually([this] { return alive() && call("status").has_value(); }, 20s))
            << "daemon of " << interface_ << " did not answer on its socket\n"
            << log_text();
    }

    // Signals the daemon and reaps it; SIGKILL is the crash case.
    void stop(int signal = SIGTERM) {
        if (pid_ < 0) {
            return;
        }
        ::kill(pid_, signal);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    bool alive() const {
        if (pid_ < 0) {
            return false;
        }
        int status = 0;
        return ::waitpid(pid_, &status, WNOHANG) == 0;
    }

    std::optional<json> call(const std::string& method) const {
        try {
            const auto response = mesh::control_call(socket(), {method, json::object()}, 2s);
            if (!response.value("ok", false)) {
                return std::nullopt;
            }
            return response.value("result", json());
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }

    std::string log_text() const {
        std::ifstream in(log());
        std::stringstream text;
        text << in.rdbuf();
        return "---- daemon log of " + interface_ + " ----\n" + text.str();
    }

    // `ip -j route show proto 150` on this node.
    json owned_routes() const {
        return json::parse(ns_->exec_checked({"ip", "-j", "route", "show", "proto", "150"}));
    }
    bool has_route(const std::string& dst, const std::string& gateway) const {
        for (const auto& route : owned_routes()) {
            if (route.value("dst", "") == dst && route.value("gateway", "") == gateway &&
                route.value("dev", "") == interface_) {
                return true;
            }
        }
        return false;
    }

    // Allowed IPs per peer key from `wg show IF dump`.
    std::map<std::string, std::set<std::string>> wg_allowed_ips() const {
        std::map<std::string, std::set<std::string>> result;
        const auto dump = ns_->exec({"wg", "show", interface_, "dump"});
        std::istringstream lines(dump.out);
        std::string line;
        std::getline(lines, line);  // the interface itself
        while (std::getline(lines, line)) {
            std::istringstream fields(line);
            std::string key, psk, endpoint, allowed;
            fields >> key >> psk >> endpoint >> allowed;
            auto& set = result[key];
            std::istringstream parts(allowed);
            for (std::string part; std::getline(parts, part, ',');) {
                if (part != "(none)") {
                    set.insert(part);
                }
            }
        }
        return result;
    }
    bool wg_entry_allows(const Node& peer, const std::set<std::string>& wanted) const {
        const auto all = wg_allowed_ips();
        const auto it = all.find(peer.pub());
        if (it == all.end()) {
            return false;
        }
        for (const auto& w : wanted) {
            if (!it->second.count(w)) {
                return false;
            }
        }
        return true;
    }

    // IPv4 addresses on the mesh interface (`ip -j addr`).
    std::set<std::string> interface_v4() const {
        std::set<std::string> result;
        const auto out = ns_->exec({"ip", "-j", "-4", "addr", "show", "dev", interface_});
        if (out.exit_code != 0) {
            return result;
        }
        for (const auto& link : json::parse(out.out)) {
            for (const auto& info : link.value("addr_info", json::array())) {
                result.insert(info.value("local", ""));
            }
        }
        return result;
    }

  private:
    std::unique_ptr<TestNamespace> ns_;
    std::string interface_;
    fs::path state_dir_;
    wg::Key private_key_;
    wg::Key public_key_;
    netlink::IpAddress mesh_ip_;
    pid_t pid_ = -1;
};

// A UDP echo server inside a namespace, on its own thread (setns is per thread).
class UdpEcho {
  public:
    UdpEcho(const TestNamespace& ns, const std::string& address) {
        std::atomic<int> state{0};  // 1 bound, -1 failed
        thread_ = std::thread([this, name = ns.name(), address, &state] {
            TestNamespace::Scope scope(name);
            fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            sockaddr_in local{};
            local.sin_family = AF_INET;
            local.sin_port = htons(kEchoPort);
            ::inet_pton(AF_INET, address.c_str(), &local.sin_addr);
            if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
                state = -1;
                return;
            }
            state = 1;
            char buffer[512];
            while (!stopping_) {
                pollfd pfd{fd_, POLLIN, 0};
                if (::poll(&pfd, 1, 100) <= 0) {
                    continue;
                }
                sockaddr_in from{};
                socklen_t from_len = sizeof from;
                const auto n = ::recvfrom(fd_, buffer, sizeof buffer, 0,
                                          reinterpret_cast<sockaddr*>(&from), &from_len);
                if (n > 0) {
                    ::sendto(fd_, buffer, static_cast<std::size_t>(n), 0,
                             reinterpret_cast<sockaddr*>(&from), from_len);
                }
            }
        });
        while (state == 0) {
            std::this_thread::sleep_for(10ms);
        }
        if (state < 0) {
            stop();
            throw std::runtime_error("cannot bind the UDP echo server to " + address);
        }
    }
    ~UdpEcho() { stop(); }

  private:
    void stop() {
        stopping_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    std::atomic<bool> stopping_{false};
    int fd_ = -1;
    std::thread thread_;
};

// One datagram from `from` to address:kEchoPort and its echo back, within a second.
bool udp_round_trip(const TestNamespace& from, const std::string& address) {
    const auto scope = from.enter();
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kEchoPort);
    ::inet_pton(AF_INET, address.c_str(), &to.sin_addr);
    const std::string probe = "wgmesh-e2e";
    bool ok = false;
    if (::sendto(fd, probe.data(), probe.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
        static_cast<ssize_t>(probe.size())) {
        pollfd pfd{fd, POLLIN, 0};
        char buffer[64];
        if (::poll(&pfd, 1, 1000) > 0) {
            ok = ::recv(fd, buffer, sizeof buffer, 0) == static_cast<ssize_t>(probe.size());
        }
    }
    ::close(fd);
    return ok;
}

// C's LAN: a dummy interface, or a veth pair kept inside C where the kernel lacks dummy.
void add_lan(const TestNamespace& ns) {
    if (ns.exec({"ip", "link", "add", "lan0", "type", "dummy"}).exit_code != 0) {
        ns.exec_checked({"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p"});
        ns.exec_checked({"ip", "link", "set", "lan0p", "up"});
    }
    ns.exec_checked({"ip", "addr", "add", std::string(kLanAddress) + "/24", "dev", "lan0"});
    ns.exec_checked({"ip", "link", "set", "lan0", "up"});
}

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
    REQUIRE_E2E();
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
    REQUIRE_E2E();
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
        10s));

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
        const auto ip = addressing().mesh_ip(key.public_key()).to_string();
        const auto [it, inserted] = by_ip.emplace(ip, key);
        if (!inserted) {
            return {it->second, key};
        }
    }
    throw std::runtime_error("no mesh IP collision among 20000 keys");
}

TEST(MeshE2e, CollidingMeshIpsAreRepaired) {
    REQUIRE_E2E();
    const auto [first, second] = colliding_keys();
    TempDir dir;
    Node x("x", dir.path(), first);
    Node y("y", dir.path(), second);
    ASSERT_EQ(x.mesh_ip(), y.mesh_ip());
    Node& lower = x.public_key() < y.public_key() ? x : y;
    Node& higher = x.public_key() < y.public_key() ? y : x;
    const std::string moved = addressing().mesh_ip(higher.public_key(), 1).to_string();

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

std::string nft_table(const Node& node) {
    return "wgmesh-" + node.interface();
}

// Rules of our table: the relay accept must be there.
bool forwarding_rule_present(const Node& node) {
    const auto out = node.ns().exec({"nft", "-j", "list", "table", "inet", nft_table(node)});
    if (out.exit_code != 0) {
        return false;
    }
    // Kept in a variable: a range-for over a member of a temporary would dangle.
    const auto listing = json::parse(out.out);
    for (const auto& item : listing.at("nftables")) {
        if (item.contains("rule")) {
            return true;
        }
    }
    return false;
}

TEST(MeshE2e, DeletedRouteAndNftTableAreRestoredWithinOneCycle) {
    REQUIRE_E2E();
    TwoNodeMesh mesh;
    auto& [dir, a, b] = mesh;
    a.start();
    b.start({"--advertise-routes", kLanNetwork});
    ASSERT_TRUE(eventually([&] { return a.has_route(kLanNetwork, b.mesh_ip()); }, kConverge))
        << a.log_text();
    ASSERT_TRUE(eventually([&] { return forwarding_rule_present(a); }, kConverge))
        << a.ns().exec({"nft", "list", "ruleset"}).out << a.log_text();

    a.ns().exec_checked({"ip", "route", "del", kLanNetwork, "dev", a.interface()});
    ASSERT_FALSE(a.has_route(kLanNetwork, b.mesh_ip()));
    EXPECT_TRUE(eventually([&] { return a.has_route(kLanNetwork, b.mesh_ip()); }, kOneCycle))
        << "route not restored within one cycle";

    a.ns().exec_checked({"nft", "flush", "table", "inet", nft_table(a)});
    ASSERT_FALSE(forwarding_rule_present(a));
    EXPECT_TRUE(eventually([&] { return forwarding_rule_present(a); }, kOneCycle))
        << "flushed table not refilled within one cycle";

    a.ns().exec_checked({"nft", "delete", "table", "inet", nft_table(a)});
    ASSERT_FALSE(forwarding_rule_present(a));
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

json nft_rules_without_handles(const Node& node, const std::string& family,
                               const std::string& table) {
    json rules = json::array();
    const auto out = node.ns().exec({"nft", "-j", "list", "table", family, table});
    if (out.exit_code != 0) {
        return rules;
    }
    const auto listing = json::parse(out.out);
    for (auto item : listing.at("nftables")) {
        if (item.contains("rule")) {
            item["rule"].erase("handle");
            rules.push_back(item["rule"]);
        }
    }
    return rules;
}

TEST(MeshE2e, ForeignRoutesAndRulesSurviveStopAndCleanup) {
    REQUIRE_E2E();
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
    const auto foreign_before = nft_rules_without_handles(a, "inet", "foreign");
    const auto filter_before = nft_rules_without_handles(a, "ip", "filter");
    ASSERT_EQ(foreign_before.size(), 1u);
    ASSERT_EQ(filter_before.size(), 1u);

    a.start();
    b.start({"--advertise-routes", kLanNetwork});
    ASSERT_TRUE(eventually([&] { return a.has_route(kLanNetwork, b.mesh_ip()); }, kConverge))
        << a.log_text();
    ASSERT_TRUE(eventually([&] { return forwarding_rule_present(a); }, kConverge))
        << a.ns().exec({"nft", "list", "ruleset"}).out << a.log_text();
    // The daemon's tagged accept went into the FORWARD chain next to the foreign rule.
    EXPECT_TRUE(eventually([&] { return nft_rules_without_handles(a, "ip", "filter").size() == 2; },
                           kConverge))
        << nft_rules_without_handles(a, "ip", "filter").dump();
    EXPECT_EQ(foreign_routes(a), routes_before);

    a.stop();
    EXPECT_EQ(foreign_routes(a), routes_before);
    EXPECT_EQ(nft_rules_without_handles(a, "inet", "foreign"), foreign_before);
    for (const auto& rule : filter_before) {
        const auto now = nft_rules_without_handles(a, "ip", "filter");
        EXPECT_NE(std::find(now.begin(), now.end(), rule), now.end()) << now.dump();
    }

    const auto cleanup =
        ns.exec({WGMESH_BINARY, "cleanup", "--interface", a.interface(), "--state-dir",
                 a.state_dir().string(), "--socket", a.socket().string()});
    ASSERT_EQ(cleanup.exit_code, 0) << cleanup.out << cleanup.err;
    EXPECT_EQ(foreign_routes(a), routes_before);
    EXPECT_EQ(nft_rules_without_handles(a, "inet", "foreign"), foreign_before);
    EXPECT_EQ(nft_rules_without_handles(a, "ip", "filter"), filter_before);
    // And ours is gone.
    EXPECT_FALSE(forwarding_rule_present(a));
    EXPECT_EQ(ns.exec({"ip", "link", "show", a.interface()}).exit_code == 0
                  ? a.owned_routes().size()
                  : 0u,
              0u);
}

}  // namespace
}  // namespace wgmesh::test
