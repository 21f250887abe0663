// Two real `wgmesh join` daemons in two namespaces joined by a veth pair, over wireguard-go:
// convergence, traffic over the mesh, advertised routes, the control socket, SIGHUP reloads,
// SIGTERM leaving the data plane in place, `wgmesh cleanup`, and the secret never showing
// in argv or a child's environment. Everything is checked by reading kernel state back.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"

extern char** environ;

namespace wgmesh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using test::TestNamespace;

constexpr const char* kSecret = "daemon-netns-test-secret-b7f3c1d9e2";

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The bound is for a loaded 2-core machine under a sanitizer; the wait ends as soon as the
// condition holds.
constexpr std::chrono::seconds kBound{60};

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = kBound) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(100ms);
    }
    return condition();
}

// A `wgmesh join` running in a namespace; `ip netns exec` execs it, so the pid is the
// daemon's own.
class Daemon {
  public:
    Daemon(const TestNamespace& ns, const std::vector<std::string>& args, const fs::path& log,
           const std::vector<std::string>& extra_env = {}) {
        std::vector<std::string> argv = {"ip", "netns", "exec", ns.name(), WGMESH_BINARY, "join"};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char*> cargv;
        for (auto& a : argv) {
            cargv.push_back(a.data());
        }
        cargv.push_back(nullptr);
        std::vector<std::string> env;
        for (char** e = environ; *e != nullptr; ++e) {
            if (std::strncmp(*e, "WGMESH_SECRET=", 14) != 0) {
                env.emplace_back(*e);
            }
        }
        env.push_back(std::string("WGMESH_SECRET=") + kSecret);
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        std::vector<char*> cenv;
        for (auto& e : env) {
            cenv.push_back(e.data());
        }
        cenv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        const int rc = posix_spawnp(&pid_, "ip", &actions, nullptr, cargv.data(), cenv.data());
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            throw std::runtime_error("cannot start wgmesh join: " + std::string(strerror(rc)));
        }
    }
    ~Daemon() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
    void signal(int sig) const { ::kill(pid_, sig); }
    // Sends `sig` and waits (bounded) for the exit; the exit status, or -1 on timeout.
    int stop(int sig = SIGTERM) {
        ::kill(pid_, sig);
        int status = 0;
        const auto deadline = std::chrono::steady_clock::now() + kBound;
        while (std::chrono::steady_clock::now() < deadline) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(50ms);
        }
        return -1;
    }

  private:
    pid_t pid_ = -1;
};

struct Node {
    std::string tag;
    std::unique_ptr<TestNamespace> ns;
    std::string interface;
    fs::path state_dir;
    fs::path socket;
    fs::path peers_file;
    fs::path log;
    std::string public_key;
    std::string underlay_ip;
    std::uint16_t port = 0;
    std::string advertised;
    std::vector<std::string> backend = {"--wireguard-backend", "auto"};
    std::vector<std::string> extra_env;  // NAME=value, for the daemon only
    std::unique_ptr<Daemon> daemon;

    std::vector<std::string> join_args() const {
        std::vector<std::string> args = {"--interface",          interface,
                                         "--listen-port",        std::to_string(port),
                                         "--state-dir",          state_dir.string(),
                                         "--peers-file",         peers_file.string(),
                                         "--advertise-routes",   advertised,
                                         "--control-socket",     socket.string(),
                                         "--reconcile-interval", "300ms",
                                         "--log-level",          "debug"};
        args.insert(args.end(), backend.begin(), backend.end());
        return args;
    }
    void start() { daemon = std::make_unique<Daemon>(*ns, join_args(), log, extra_env); }
    test::CommandResult wgmesh(std::vector<std::string> args) const {
        args.insert(args.begin(), WGMESH_BINARY);
        return ns->exec(args);
    }
    json control(const std::string& command) const {
        const auto r = wgmesh({command, "--socket", socket.string(), "--json"});
        if (r.exit_code != 0) {
            return nullptr;
        }
        return json::parse(r.out);
    }
    json routes() const { return json::parse(ns->exec_checked({"ip", "-j", "route", "show"})); }
    // `wg show IF dump` peer lines: public key -> fields.
    std::map<std::string, std::vector<std::string>> wg_peers() const {
        const auto r = ns->exec({"wg", "show", interface, "dump"});
        std::map<std::string, std::vector<std::string>> peers;
        std::istringstream lines(r.out);
        std::string line;
        std::getline(lines, line);  // the device line
        while (std::getline(lines, line)) {
            std::vector<std::string> f;
            std::istringstream fields(line);
            for (std::string x; std::getline(fields, x, '\t');) {
                f.push_back(x);
            }
            if (!f.empty()) {
                peers[f[0]] = f;
            }
        }
        return peers;
    }
};

bool has_route(const json& routes, const std::string& dst, const std::string& gateway) {
    for (const auto& r : routes) {
        if (r.value("dst", "") == dst && r.value("gateway", "") == gateway) {
            return true;
        }
    }
    return false;
}

std::size_t owned_routes(const json& routes) {
    std::size_t n = 0;
    for (const auto& r : routes) {
        const auto proto = r.contains("protocol") ? r["protocol"].dump() : "";
        n += proto.find("150") != std::string::npos || proto.find("wgmesh") != std::string::npos;
    }
    return n;
}

// A UDP datagram from `from`'s namespace to `to_ip` inside `to`'s namespace arrives.
bool udp_reaches(const TestNamespace& from, const TestNamespace& to, const std::string& to_ip) {
    int receiver = -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(40404);
    inet_pton(AF_INET, to_ip.c_str(), &address.sin_addr);
    {
        auto scope = to.enter();
        receiver = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (::bind(receiver, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
            ::close(receiver);
            return false;
        }
    }
    int sender = -1;
    {
        auto scope = from.enter();
        sender = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    bool received = false;
    const auto deadline = std::chrono::steady_clock::now() + kBound;
    while (!received && std::chrono::steady_clock::now() < deadline) {
        const char message[] = "over the mesh";
        ::sendto(sender, message, sizeof(message), 0, reinterpret_cast<sockaddr*>(&address),
                 sizeof(address));
        pollfd pfd{receiver, POLLIN, 0};
        if (::poll(&pfd, 1, 500) == 1) {
            char buffer[64];
            received = ::recv(receiver, buffer, sizeof(buffer), 0) == sizeof(message) &&
                       std::memcmp(buffer, message, sizeof(message)) == 0;
        }
    }
    ::close(sender);
    ::close(receiver);
    return received;
}

class DaemonTest : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_NETNS();
        if (!test::program_exists("wireguard-go") || !test::program_exists("wg")) {
            GTEST_SKIP() << "netns daemon test skipped: wireguard-go or wg is not installed";
        }
        root_ = fs::temp_directory_path() / ("wgmesh-daemon-test-" + std::to_string(::getpid()));
        fs::create_directories(root_);
        const std::string suffix = std::to_string(::getpid() % 100000);
        a_ = make_node("a", "wgd" + suffix + "a", "192.168.231.1", 51931, "172.30.1.0/24");
        b_ = make_node("b", "wgd" + suffix + "b", "192.168.231.2", 51932, "172.30.2.0/24");
        test::connect_veth(*a_.ns, "va", "192.168.231.1/24", *b_.ns, "vb", "192.168.231.2/24");
        write_peers_file(a_, b_);
        write_peers_file(b_, a_);
    }
    void TearDown() override {
        for (Node* node : {&a_, &b_}) {
            if (node->daemon) {
                node->daemon->stop(SIGTERM);
            }
            if (node->ns) {
                node->wgmesh({"cleanup", "--interface", node->interface, "--state-dir",
                              node->state_dir.string(), "--socket", node->socket.string()});
                if (HasFailure()) {
                    std::cerr << "--- log of node " << node->tag << "\n"
                              << read_file(node->log) << "\n";
                }
            }
            node->daemon.reset();
            node->ns.reset();
        }
        if (!root_.empty()) {
            fs::remove_all(root_);
        }
    }

    Node make_node(const std::string& tag, const std::string& interface, const std::string& ip,
                   std::uint16_t port, const std::string& advertised) {
        Node node;
        node.tag = tag;
        node.ns = std::make_unique<TestNamespace>("daemon" + tag);
        node.interface = interface;
        node.state_dir = root_ / tag;
        fs::create_directories(node.state_dir);
        node.socket = root_ / (tag + ".sock");
        node.peers_file = root_ / (tag + "-peers.json");
        node.log = root_ / (tag + ".log");
        node.underlay_ip = ip;
        node.port = port;
        node.advertised = advertised;
        // The key exists before the daemon starts so the other node's peers file can name it.
        const auto key = test::run_checked({WGMESH_BINARY, "genkey"});
        const auto key_path = node.state_dir / (interface + ".key");
        std::ofstream(key_path) << key;
        fs::permissions(key_path, fs::perms::owner_read | fs::perms::owner_write);
        node.public_key = test::run_checked({WGMESH_BINARY, "pubkey"}, key);
        node.public_key.erase(node.public_key.find_last_not_of("\n") + 1);
        return node;
    }

    static void write_peers_file(const Node& node, const Node& other) {
        const json peers =
            json::array({{{"wg_pubkey", other.public_key},
                          {"endpoint", other.underlay_ip + ":" + std::to_string(other.port)},
                          {"hostname", "node-" + other.tag},
                          {"routable_networks", {other.advertised}}}});
        std::ofstream(node.peers_file) << peers.dump(2);
    }

    // The other node's mesh IPv4, from our daemon's peer list.
    static std::string mesh_ip_of(const Node& node, const std::string& key) {
        const auto peers = node.control("peers");
        for (const auto& p : peers) {
            if (p["wg_pubkey"] == key) {
                return p["mesh_ip"];
            }
        }
        return "";
    }

    static bool converged(const Node& node, const Node& other, const std::string& other_ip) {
        const auto peers = node.wg_peers();
        const auto it = peers.find(other.public_key);
        // Fields: key, psk, endpoint, allowed ips, latest handshake, rx, tx, keepalive.
        return it != peers.end() && it->second.size() >= 8 && it->second[4] != "0" &&
               has_route(node.routes(), other.advertised, other_ip);
    }

    fs::path root_;
    Node a_;
    Node b_;
};

TEST_F(DaemonTest, TwoNodesConvergeCarryTrafficAndSurviveARestart) {
    // A's wireguard-go child is checked for the secret: userspace on any kernel.
    a_.backend = {"--wireguard-backend", "userspace"};
    a_.ns->exec_checked({"ip", "route", "add", "198.18.7.0/24", "via", "192.168.231.2"});
    a_.start();
    b_.start();
    ASSERT_TRUE(wait_until([&] {
        return !a_.control("status").is_null() && !b_.control("status").is_null();
    })) << "the daemons' control sockets never answered";

    const auto status_a = a_.control("status");
    const std::string a_ip = status_a["mesh_ip"];
    const std::string b_ip = b_.control("status")["mesh_ip"];
    ASSERT_EQ(mesh_ip_of(a_, b_.public_key), b_ip);
    EXPECT_EQ(status_a["public_key"], a_.public_key);
    // The mesh id lets an operator see at a glance that both nodes joined one mesh.
    const auto derived = nlohmann::json::parse(
        test::run_checked({WGMESH_BINARY, "derive", "--json", "--secret", kSecret}));
    EXPECT_EQ(status_a["mesh_id"], derived["mesh_id"]);
    EXPECT_EQ(b_.control("status")["mesh_id"], derived["mesh_id"]);

    ASSERT_TRUE(wait_until([&] { return converged(a_, b_, b_ip) && converged(b_, a_, a_ip); }))
        << "no handshake or advertised route within 20 s";

    // WireGuard carries exactly the mesh addresses and the advertised network, with the PSK.
    const auto entry = a_.wg_peers().at(b_.public_key);
    EXPECT_NE(entry[1], "(none)");
    EXPECT_EQ(entry[2], b_.underlay_ip + ":" + std::to_string(b_.port));
    EXPECT_NE(entry[3].find(b_ip + "/32"), std::string::npos);
    EXPECT_NE(entry[3].find("172.30.2.0/24"), std::string::npos);
    EXPECT_EQ(entry[7], "25");
    ASSERT_TRUE(udp_reaches(*a_.ns, *b_.ns, b_ip)) << "no UDP over the mesh from A to B";
    ASSERT_TRUE(udp_reaches(*b_.ns, *a_.ns, a_ip)) << "no UDP over the mesh from B to A";

    const auto peers = a_.control("peers");
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_EQ(peers[0]["wg_pubkey"], b_.public_key);
    EXPECT_EQ(peers[0]["hostname"], "node-b");
    EXPECT_TRUE(peers[0]["confirmed"].get<bool>());

    // The forwarding table is in place (read back from nft).
    const auto ruleset = a_.ns->exec_checked({"nft", "-j", "list", "tables"});
    EXPECT_NE(ruleset.find("wgmesh-" + a_.interface), std::string::npos);

    // A route deleted by hand and a deleted nft table come back by the next cycles.
    a_.ns->exec_checked({"ip", "route", "del", b_.advertised});
    a_.ns->exec_checked({"nft", "delete", "table", "inet", "wgmesh-" + a_.interface});
    EXPECT_TRUE(wait_until([&] { return has_route(a_.routes(), b_.advertised, b_ip); }));
    EXPECT_TRUE(wait_until([&] {
        return a_.ns->exec_checked({"nft", "-j", "list", "tables"})
                   .find("wgmesh-" + a_.interface) != std::string::npos;
    }));

    // The secret is in no argv and no child's environment.
    const auto daemon_pid = a_.daemon->pid();
    const auto proc = fs::path("/proc") / std::to_string(daemon_pid);
    EXPECT_EQ(read_file(proc / "cmdline").find(kSecret), std::string::npos);
    EXPECT_EQ(read_file(proc / "environ").find(kSecret), std::string::npos);
    const auto children = test::wireguard_go_pids(a_.interface);
    ASSERT_FALSE(children.empty()) << "no wireguard-go process for " << a_.interface;
    for (const pid_t pid : children) {
        const auto child = fs::path("/proc") / std::to_string(pid);
        EXPECT_EQ(read_file(child / "cmdline").find(kSecret), std::string::npos);
        EXPECT_EQ(read_file(child / "environ").find("WGMESH_SECRET"), std::string::npos);
    }
    const auto ps = test::run_checked({"ps", "-eo", "args"});
    EXPECT_EQ(ps.find(kSecret), std::string::npos);

    // A second daemon for the same interface refuses to start and changes nothing.
    const auto secret_file = root_ / "secret";
    std::ofstream(secret_file) << kSecret << "\n";
    auto second_args = a_.join_args();
    second_args.insert(second_args.begin(),
                       {WGMESH_BINARY, "join", "--secret-file", secret_file.string()});
    const auto second = a_.ns->exec(second_args);
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("already running"), std::string::npos) << second.err;
    EXPECT_TRUE(a_.daemon->running());

    // Cleanup refuses while the daemon answers.
    const auto refused = a_.wgmesh({"cleanup", "--interface", a_.interface, "--state-dir",
                                    a_.state_dir.string(), "--socket", a_.socket.string()});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_TRUE(has_route(a_.routes(), b_.advertised, b_ip));

    // SIGTERM: exit 0, the cache written, routes, addresses and WireGuard peers left alone.
    ASSERT_EQ(a_.daemon->stop(SIGTERM), 0);
    a_.daemon.reset();
    const auto cache = json::parse(read_file(a_.state_dir / (a_.interface + "-peers.json")));
    ASSERT_EQ(cache["peers"].size(), 1u);
    EXPECT_EQ(cache["peers"][0]["wg_pubkey"], b_.public_key);
    EXPECT_TRUE(has_route(a_.routes(), b_.advertised, b_ip));
    EXPECT_EQ(a_.wg_peers().count(b_.public_key), 1u);
    EXPECT_TRUE(udp_reaches(*a_.ns, *b_.ns, b_ip)) << "traffic stopped with the daemon";

    // A restart with an emptied peers file brings B back from the cache (unconfirmed).
    std::ofstream(a_.peers_file) << "[]";
    a_.start();
    ASSERT_TRUE(wait_until([&] {
        const auto p = a_.control("peers");
        return p.is_array() && p.size() == 1 && !p[0]["confirmed"].get<bool>();
    }));
    // Several cycles later the cached peer is still configured and routed (a cycle that
    // ignored cached peers would have removed both).
    ASSERT_TRUE(wait_until([&] { return a_.control("status").value("cycles", 0) >= 3; }));
    EXPECT_EQ(a_.wg_peers().count(b_.public_key), 1u);
    EXPECT_TRUE(has_route(a_.routes(), b_.advertised, b_ip));
    ASSERT_EQ(a_.daemon->stop(SIGTERM), 0);
    a_.daemon.reset();

    // Cleanup removes routes, rules, addresses and the interface; the foreign route stays.
    const auto cleanup = a_.wgmesh({"cleanup", "--interface", a_.interface, "--state-dir",
                                    a_.state_dir.string(), "--socket", a_.socket.string()});
    EXPECT_EQ(cleanup.exit_code, 0) << cleanup.err;
    const auto after = a_.routes();
    EXPECT_EQ(owned_routes(after), 0u) << after.dump();
    EXPECT_TRUE(has_route(after, "198.18.7.0/24", "192.168.231.2")) << after.dump();
    EXPECT_NE(a_.ns->exec({"ip", "link", "show", a_.interface}).exit_code, 0);
    EXPECT_EQ(a_.ns->exec_checked({"nft", "-j", "list", "tables"}).find("wgmesh-"),
              std::string::npos);
    EXPECT_EQ(a_.ns->exec_checked({"ip", "-j", "addr", "show"}).find(a_ip), std::string::npos);
}

// The notify protocol without systemd: a datagram socket stands in for the manager.
// READY=1 comes only after the first cycle built the node, WATCHDOG=1 keeps coming at half
// the period, STOPPING=1 comes on SIGTERM, and a second SIGTERM during the stop does not
// turn a clean exit into death by signal. (The VM's systemd scenario runs the real thing.)
TEST_F(DaemonTest, NotifiesTheServiceManagerAfterTheFirstCycleAndBeforeStopping) {
    const fs::path notify_path = root_ / "notify.sock";
    const int manager = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(manager, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, notify_path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(manager, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    const auto next_state = [&] {
        pollfd fd{manager, POLLIN, 0};
        if (::poll(&fd, 1, static_cast<int>(std::chrono::milliseconds(kBound).count())) != 1) {
            ::close(manager);
            return std::string("<none within the bound>");
        }
        char buffer[256];
        const ssize_t n = ::recv(manager, buffer, sizeof buffer, 0);
        return n < 0 ? std::string("<recv failed>")
                     : std::string(buffer, static_cast<std::size_t>(n));
    };

    a_.backend = {"--wireguard-backend", "userspace"};
    a_.extra_env = {"NOTIFY_SOCKET=" + notify_path.string(), "WATCHDOG_USEC=1000000"};
    a_.start();
    std::string state;
    do {  // the watchdog may be pinged while the first cycle runs
        state = next_state();
    } while (state == "WATCHDOG=1");
    ASSERT_EQ(state, "READY=1");
    // Ready means built: the interface exists with its mesh address, and a cycle finished.
    const auto status = a_.control("status");
    ASSERT_FALSE(status.is_null());
    EXPECT_GE(status.value("cycles", 0), 1);
    const std::string mesh_ip = status["mesh_ip"];
    EXPECT_NE(a_.ns->exec_checked({"ip", "-j", "addr", "show", "dev", a_.interface})
                  .find("\"" + mesh_ip + "\""),
              std::string::npos);
    EXPECT_EQ(next_state(), "WATCHDOG=1");
    EXPECT_EQ(next_state(), "WATCHDOG=1");

    a_.daemon->signal(SIGTERM);
    do {
        state = next_state();
    } while (state == "WATCHDOG=1");
    EXPECT_EQ(state, "STOPPING=1");
    // A second SIGTERM while it shuts down (an impatient operator) changes nothing: the
    // daemon still finishes its stop and exits 0.
    EXPECT_EQ(a_.daemon->stop(SIGTERM), 0);
    a_.daemon.reset();
    ::close(manager);
}

TEST_F(DaemonTest, SighupReloadsThePeersFileAndABadFileKeepsTheLastGoodSet) {
    a_.start();
    b_.start();
    ASSERT_TRUE(wait_until([&] {
        const auto s = b_.control("status");
        return !a_.control("status").is_null() && !s.is_null() &&
               converged(a_, b_, mesh_ip_of(a_, b_.public_key));
    }));
    const std::string b_ip = mesh_ip_of(a_, b_.public_key);

    std::ofstream(a_.peers_file) << R"([{"wg_pubkey": "not a key"}])";
    // The reload happens in the loop before its next cycle: two more cycles mean it is done.
    const auto before = a_.control("status");
    ASSERT_TRUE(before.is_object());
    const int cycles = before.value("cycles", 0);
    a_.daemon->signal(SIGHUP);
    ASSERT_TRUE(wait_until([&] {
        const auto status = a_.control("status");
        return status.is_object() && status.value("cycles", 0) >= cycles + 2;
    })) << "the daemon stopped cycling after a bad peers file";
    EXPECT_TRUE(a_.daemon->running());
    EXPECT_EQ(a_.wg_peers().count(b_.public_key), 1u);
    EXPECT_TRUE(has_route(a_.routes(), b_.advertised, b_ip));

    std::ofstream(a_.peers_file) << "[]";
    a_.daemon->signal(SIGHUP);
    ASSERT_TRUE(wait_until([&] {
        return a_.wg_peers().empty() && !has_route(a_.routes(), b_.advertised, b_ip);
    })) << "B stayed configured after leaving the peers file";

    // A peer added over the control socket is configured like a static one.
    const auto added = a_.wgmesh(
        {"peer", "add", "--socket", a_.socket.string(), "--pubkey", b_.public_key, "--endpoint",
         b_.underlay_ip + ":" + std::to_string(b_.port), "--routes", b_.advertised});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    ASSERT_TRUE(wait_until([&] { return has_route(a_.routes(), b_.advertised, b_ip); }));
    const auto removed =
        a_.wgmesh({"peer", "remove", "--socket", a_.socket.string(), "--pubkey", b_.public_key});
    ASSERT_EQ(removed.exit_code, 0) << removed.err;
    ASSERT_TRUE(wait_until([&] { return a_.wg_peers().empty(); }));
}

TEST(DaemonCli, ControlCommandsFailClearlyWithoutADaemon) {
    const auto r =
        test::run_command({WGMESH_BINARY, "status", "--socket", "/nonexistent-wgmesh-dir/x.sock"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no daemon answers"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wgmesh
