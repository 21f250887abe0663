#include "tests/support/mesh_node.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "mesh/control_server.h"
#include "mesh/derived_keys.h"
#include "mesh/secret.h"
#include "tests/support/process.h"
#include "wg/device_factory.h"

extern char** environ;

namespace wgmesh::test {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string read_whole_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// `ip -j <family> addr show dev IF`: the local addresses.
std::set<std::string> interface_addresses(const TestNamespace& ns, const std::string& interface,
                                          const char* family) {
    std::set<std::string> result;
    const auto out = ns.exec({"ip", "-j", family, "addr", "show", "dev", interface});
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

}  // namespace

const mesh::MeshAddressing& test_addressing() {
    static const std::string secret = mesh::parse_secret(kMeshSecret).value;
    static const mesh::MeshAddressing instance(secret, mesh::derive_keys(secret));
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

std::string daemon_scenarios_unavailable_reason() {
    for (const char* program : {"wireguard-go", "wg", "nft"}) {
        if (!program_exists(program)) {
            return std::string("daemon scenario skipped: ") + program + " is not installed";
        }
    }
    return {};
}

TempDir::TempDir() {
    std::string pattern = (fs::temp_directory_path() / "wgmesh-e2e.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

Node::Node(const std::string& tag, const fs::path& root, std::optional<wg::Key> private_key)
    : ns_(std::make_unique<TestNamespace>(tag)),
      // Interface names share /var/run/wireguard across namespaces: make them unique.
      interface_("wge" + std::to_string(::getpid() % 100000) + tag),
      state_dir_(root / tag),
      private_key_(private_key ? *private_key : wg::Key::generate_private()),
      public_key_(private_key_.public_key()),
      mesh_ip_(test_addressing().mesh_ip(public_key_)) {
    fs::create_directories(state_dir_);
    fs::permissions(state_dir_, fs::perms::owner_all);
    std::ofstream key(state_dir_ / (interface_ + ".key"));
    key << private_key_.to_base64() << "\n";
    key.close();
    fs::permissions(state_dir_ / (interface_ + ".key"),
                    fs::perms::owner_read | fs::perms::owner_write);
    write_peers(json::array());
}

Node::~Node() {
    stop(SIGKILL);
    // Removed here, not by the namespace's teardown: wireguard-go stopped with SIGTERM (or
    // the link deleted) removes its socket, and a socket left by a wireguard-go the test killed
    // is unlinked, so nothing stays in the directory every namespace shares.
    try {
        const auto scope = ns_->enter();
        wg::remove_interface(interface_);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "cannot remove " << interface_ << ": " << e.what();
    }
}

json Node::as_peer(const std::string& endpoint, bool introducer,
                   const std::vector<std::string>& networks) const {
    json peer = {{"wg_pubkey", pub()}, {"endpoint", endpoint + ":51820"}};
    if (introducer) {
        peer["introducer"] = true;
    }
    if (!networks.empty()) {
        peer["routable_networks"] = networks;
    }
    return peer;
}

void Node::write_peers(const json& peers) const {
    std::ofstream(state_dir_ / "peers.json") << peers.dump(2) << "\n";
}

void Node::spawn(const std::vector<std::string>& extra) {
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
                                     daemon_state_dir().string(),
                                     "--peers-file",
                                     (state_dir_ / "peers.json").string(),
                                     "--control-socket",
                                     socket().string(),
                                     "--log-level",
                                     "debug"};
    // 1 s cycles unless the test chose its own (to leave repairs to the kernel monitor).
    if (std::find(extra.begin(), extra.end(), "--reconcile-interval") == extra.end()) {
        argv.insert(argv.end(), {"--reconcile-interval", "1s"});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
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
    posix_spawn_file_actions_addopen(&actions, 1, log().c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, "ip", &actions, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0) << "cannot spawn the daemon";
    pid_ = pid;
}

void Node::start(const std::vector<std::string>& extra) {
    spawn(extra);
    ASSERT_TRUE(eventually([this] { return alive() && call("status").has_value(); }, kDaemonBound))
        << "daemon of " << interface_ << " did not answer on its socket\n"
        << log_text();
}

void Node::stop(int signal) {
    if (pid_ < 0) {
        return;
    }
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

bool Node::alive() const {
    if (pid_ < 0) {
        return false;
    }
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
}

json Node::call_raw(const std::string& method, const json& params) const {
    // A dead daemon fails the call at once; a live one on a loaded machine gets time.
    return mesh::control_call(socket(), {method, params}, kDaemonBound);
}

std::optional<json> Node::call(const std::string& method, const json& params) const {
    try {
        const auto response = call_raw(method, params);
        if (!response.value("ok", false)) {
            return std::nullopt;
        }
        return response.value("result", json());
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string Node::log_text() const {
    return "---- daemon log of " + interface_ + " ----\n" + read_whole_file(log());
}

json Node::owned_routes() const {
    return json::parse(ns_->exec_checked(
        {"ip", "-j", "route", "show", "proto", std::to_string(kOwnedRouteProtocol)}));
}

bool Node::has_route(const std::string& dst, const std::string& gateway) const {
    for (const auto& route : owned_routes()) {
        if (route.value("dst", "") == dst && route.value("gateway", "") == gateway &&
            route.value("dev", "") == interface_) {
            return true;
        }
    }
    return false;
}

std::vector<std::pair<std::string, std::set<std::string>>> Node::wg_peer_entries() const {
    std::vector<std::pair<std::string, std::set<std::string>>> entries;
    const auto dump = ns_->exec({"wg", "show", interface_, "dump"});
    std::istringstream lines(dump.out);
    std::string line;
    std::getline(lines, line);  // the interface itself
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string key, psk, endpoint, allowed;
        fields >> key >> psk >> endpoint >> allowed;
        std::set<std::string> set;
        std::istringstream parts(allowed);
        for (std::string part; std::getline(parts, part, ',');) {
            if (part != "(none)") {
                set.insert(part);
            }
        }
        entries.emplace_back(key, std::move(set));
    }
    return entries;
}

std::map<std::string, std::set<std::string>> Node::wg_allowed_ips() const {
    std::map<std::string, std::set<std::string>> result;
    for (auto& [key, allowed] : wg_peer_entries()) {
        result[key].insert(allowed.begin(), allowed.end());
    }
    return result;
}

bool Node::wg_entry_allows(const Node& peer, const std::set<std::string>& wanted) const {
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

std::set<std::string> Node::interface_v4() const {
    return interface_addresses(*ns_, interface_, "-4");
}

std::set<std::string> Node::interface_v6() const {
    return interface_addresses(*ns_, interface_, "-6");
}

std::string Node::mesh_ipv6() const {
    return test_addressing().mesh_ipv6(public_key_).to_string();
}

std::vector<pid_t> Node::wireguard_go_pids() const {
    return test::wireguard_go_pids(interface_);
}

bool Node::on_kernel_wireguard() const {
    const auto out = ns_->exec({"ip", "-d", "-j", "link", "show", "dev", interface_});
    if (out.exit_code != 0) {
        return false;
    }
    const auto links = json::parse(out.out);
    return !links.empty() &&
           links.front().value("linkinfo", json::object()).value("info_kind", "") == "wireguard";
}

void Node::use_state_dir(const fs::path& dir) {
    const std::string key_name = interface_ + ".key";
    fs::create_directories(dir);
    fs::copy_file(state_dir_ / key_name, dir / key_name, fs::copy_options::overwrite_existing);
    fs::permissions(dir / key_name, fs::perms::owner_read | fs::perms::owner_write);
    daemon_state_dir_ = dir;
}

int Node::stop_with(int first, std::chrono::microseconds delay, int second) {
    if (pid_ < 0) {
        return -1;
    }
    ::kill(pid_, first);
    const auto deadline = std::chrono::steady_clock::now() + delay;
    int status = 0;
    pid_t reaped = 0;
    while ((reaped = ::waitpid(pid_, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::min<std::chrono::microseconds>(
            200us, std::chrono::duration_cast<std::chrono::microseconds>(
                       deadline - std::chrono::steady_clock::now())));
    }
    // Not reaped yet, so the pid cannot have been reused: `second` reaches the daemon or
    // its zombie.
    if (reaped == 0) {
        ::kill(pid_, second);
        ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    return status;
}

std::vector<pid_t> wireguard_go_pids(const std::string& interface) {
    std::vector<pid_t> pids;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const auto cmdline = read_whole_file(entry.path() / "cmdline");
        const auto sep = cmdline.find('\0');
        if (sep == std::string::npos) {
            continue;
        }
        const std::string argv0 = cmdline.substr(0, sep);
        const std::string argv1 = cmdline.substr(sep + 1, cmdline.find('\0', sep + 1) - sep - 1);
        if (argv0.ends_with("wireguard-go") && argv1 == interface) {
            pids.push_back(std::stoi(name));
        }
    }
    return pids;
}

std::string nft_table(const Node& node) {
    return "wgmesh-" + node.interface();
}

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

std::vector<json> nft_rules(const Node& node, const std::string& family, const std::string& table) {
    std::vector<json> rules;
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

UdpEcho::UdpEcho(const TestNamespace& ns, const std::string& address) {
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

UdpEcho::~UdpEcho() {
    stop();
}

void UdpEcho::stop() {
    stopping_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

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

void add_lan(const TestNamespace& ns) {
    if (ns.exec({"ip", "link", "add", "lan0", "type", "dummy"}).exit_code != 0) {
        ns.exec_checked({"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p"});
        ns.exec_checked({"ip", "link", "set", "lan0p", "up"});
    }
    ns.exec_checked({"ip", "addr", "add", std::string(kLanAddress) + "/24", "dev", "lan0"});
    ns.exec_checked({"ip", "link", "set", "lan0", "up"});
}

}  // namespace wgmesh::test
