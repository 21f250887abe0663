// The daemon needs no root: `wgmesh join` run as an unprivileged uid holding CAP_NET_ADMIN and
// nothing else (as the systemd unit runs it: ambient and bounding set CAP_NET_ADMIN) creates
// its interface, mesh address, routes, nft table and ip_forward, and writes its key and cache
// as that uid; the wireguard-go it starts inherits CAP_NET_ADMIN and nothing more. Without
// CAP_NET_ADMIN it refuses to run. Everything is read back from the kernel and the files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "mesh/control_server.h"
#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "wg/device_factory.h"
#include "wg/key.h"

namespace wgmesh {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::eventually;
using test::kDaemonBound;
using test::TempDir;
using test::TestNamespace;

// nobody/nogroup: an uid that owns nothing else here.
constexpr uid_t kUid = 65534;
constexpr gid_t kGid = 65534;
constexpr std::uint64_t kCapNetAdmin = std::uint64_t{1} << 12;
constexpr const char* kPeerNetwork = "10.98.0.0/24";
// wireguard-go's socket directory is fixed; the daemon's mount namespace gets its own.
constexpr const char* kWireguardSocketDir = "/run/wireguard";

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// "Uid", "CapEff", ... of /proc/<pid>/status.
std::map<std::string, std::string> process_status(pid_t pid) {
    std::map<std::string, std::string> fields;
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        const auto value = line.find_first_not_of(" \t", colon + 1);
        fields[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
    }
    return fields;
}

std::uint64_t capability_set(const std::map<std::string, std::string>& status,
                             const std::string& name) {
    return std::stoull(status.at(name), nullptr, 16);
}

void expect_unprivileged_with_net_admin_only(pid_t pid, const std::string& what) {
    const auto status = process_status(pid);
    ASSERT_TRUE(status.count("Uid")) << what << " (pid " << pid << ") is gone";
    const std::string uid = std::to_string(kUid);
    EXPECT_EQ(status.at("Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid) << what;
    EXPECT_EQ(capability_set(status, "CapEff"), kCapNetAdmin) << what;
    EXPECT_EQ(capability_set(status, "CapPrm"), kCapNetAdmin) << what;
    EXPECT_EQ(capability_set(status, "CapBnd"), kCapNetAdmin) << what;
    EXPECT_EQ(capability_set(status, "CapInh") & ~kCapNetAdmin, 0u) << what;
    EXPECT_EQ(capability_set(status, "CapAmb") & ~kCapNetAdmin, 0u) << what;
}

// In the namespace `ns`: the sysctl as the namespace sees it (/proc/sys/net follows the
// opening thread's network namespace).
std::string ip_forward(const TestNamespace& ns) {
    const auto scope = ns.enter();
    std::string value = read_file("/proc/sys/net/ipv4/ip_forward");
    return value.substr(0, value.find('\n'));
}

void set_ip_forward(const TestNamespace& ns, const char* value) {
    const auto scope = ns.enter();
    std::ofstream("/proc/sys/net/ipv4/ip_forward") << value;
}

class LeastPrivilege : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_DAEMON_SCENARIOS();
        // util-linux is Essential in Debian: without setpriv this proof cannot be made, and a
        // skip would pass CI unnoticed.
        ASSERT_TRUE(test::program_exists("setpriv"))
            << "setpriv is not installed (Debian package: util-linux)";
        fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read |
                                         fs::perms::group_exec | fs::perms::others_read |
                                         fs::perms::others_exec);
        // A copy the unprivileged uid can reach: the build tree may sit in a private
        // directory (a clone under /root), which would otherwise stop the test before it began.
        fs::copy_file(WGMESH_BINARY, binary());
        fs::permissions(binary(), fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec);
        const auto probe =
            test::run_command({"setpriv", "--reuid", std::to_string(kUid), "--regid",
                               std::to_string(kGid), "--clear-groups", binary(), "--version"});
        ASSERT_EQ(probe.exit_code, 0)
            << "uid " << kUid << " cannot run " << binary() << ": " << probe.err;
        ns_ = std::make_unique<TestNamespace>("lp");
        interface_ = "wglp";
        interface_ += std::to_string(::getpid() % 100000);
        for (const auto& sub : {real_state_dir(), socket_dir()}) {
            fs::create_directory(sub);
            ASSERT_EQ(::chown(sub.c_str(), kUid, kGid), 0) << sub;
            fs::permissions(sub, fs::perms::owner_all);
        }
        // As systemd lays it out for DynamicUser= (/var/lib/wgmesh -> private/wgmesh).
        fs::create_directory_symlink(real_state_dir(), state_dir());
        // Root's file, readable by others, as docs/systemd.md asks of a service's peers file.
        std::ofstream(peers_file())
            << json::array({{{"wg_pubkey", wg::Key::generate_private().public_key().to_base64()},
                             {"endpoint", "198.51.100.7:51820"},
                             {"routable_networks", {kPeerNetwork}}}})
                   .dump();
        fs::permissions(peers_file(), fs::perms::owner_read | fs::perms::owner_write |
                                          fs::perms::group_read | fs::perms::others_read);
        fs::create_directories(kWireguardSocketDir);
        // A new namespace copies the host's forwarding setting; start from off.
        set_ip_forward(*ns_, "0");
    }

    void TearDown() override {
        stop(SIGKILL);
        if (ns_) {
            try {
                const auto scope = ns_->enter();
                wg::remove_interface(interface_, {.socket_directory = socket_dir().string()});
            } catch (const std::exception& e) {
                ADD_FAILURE() << "cannot remove " << interface_ << ": " << e.what();
            }
        }
    }

    std::string binary() const { return dir_.path() / "wgmesh"; }
    fs::path state_dir() const { return dir_.path() / "state"; }
    fs::path real_state_dir() const { return dir_.path() / "private-state"; }
    fs::path socket_dir() const { return dir_.path() / "wireguard"; }
    fs::path peers_file() const { return dir_.path() / "peers.json"; }
    fs::path control_socket() const { return dir_.path() / "state" / "control.sock"; }
    fs::path log_file() const { return dir_.path() / "daemon.log"; }
    std::string log_text() const { return "---- daemon log ----\n" + read_file(log_file()); }

    // `wgmesh join` in the namespace as kUid with exactly `capabilities` ("+net_admin" or
    // "" for none) in the permitted, inheritable, ambient and bounding sets, in a mount
    // namespace of its own where socket_dir() is wireguard-go's socket directory.
    void spawn(const std::string& capabilities) {
        std::string caps = "-all";
        if (!capabilities.empty()) {
            caps += ',';
            caps += capabilities;
        }
        std::vector<std::string> argv = {"ip",
                                         "netns",
                                         "exec",
                                         ns_->name(),
                                         "setpriv",
                                         "--reuid",
                                         std::to_string(kUid),
                                         "--regid",
                                         std::to_string(kGid),
                                         "--clear-groups",
                                         "--inh-caps",
                                         caps,
                                         "--ambient-caps",
                                         caps,
                                         "--bounding-set",
                                         caps,
                                         "--",
                                         binary(),
                                         "join",
                                         "--interface",
                                         interface_,
                                         "--state-dir",
                                         state_dir().string(),
                                         "--peers-file",
                                         peers_file().string(),
                                         "--control-socket",
                                         control_socket().string(),
                                         "--wireguard-backend",
                                         "userspace",
                                         "--reconcile-interval",
                                         "1s",
                                         "--log-level",
                                         "debug"};
        std::vector<char*> args;
        for (auto& arg : argv) {
            args.push_back(arg.data());
        }
        args.push_back(nullptr);
        std::string secret_variable = "WGMESH_SECRET=" + test::kMeshSecret;
        std::string path_variable = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
        char* env[] = {secret_variable.data(), path_variable.data(), nullptr};
        const std::string socket_dir_text = socket_dir().string();
        const int log = ::open(log_file().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        ASSERT_GE(log, 0);

        pid_ = ::fork();
        ASSERT_GE(pid_, 0);
        if (pid_ == 0) {
            // Only async-signal-safe calls until exec.
            ::dup2(log, STDOUT_FILENO);
            ::dup2(log, STDERR_FILENO);
            if (::unshare(CLONE_NEWNS) != 0 ||
                ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
                ::mount(socket_dir_text.c_str(), kWireguardSocketDir, nullptr, MS_BIND, nullptr) !=
                    0) {
                ::_exit(125);
            }
            ::execvpe(args[0], args.data(), env);
            ::_exit(127);
        }
        ::close(log);
    }

    // Signals the daemon and reaps it; its exit status.
    int stop(int signal) {
        if (pid_ <= 0) {
            return -1;
        }
        ::kill(pid_, signal);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }

    bool answers() const {
        try {
            return mesh::control_call(control_socket(), {"status", json::object()}, kDaemonBound)
                .value("ok", false);
        } catch (const std::exception&) {
            return false;
        }
    }

    TempDir dir_;
    std::unique_ptr<TestNamespace> ns_;
    std::string interface_;
    pid_t pid_ = -1;
};

TEST_F(LeastPrivilege, JoinAsAnUnprivilegedUserWithOnlyCapNetAdminBuildsTheWholeNode) {
    spawn("+net_admin");
    ASSERT_TRUE(eventually([this] { return answers(); }, kDaemonBound)) << log_text();

    // The kernel: the interface, the peer's route (ours: protocol 150), our nft table and
    // forwarding, all made by uid 65534.
    EXPECT_TRUE(eventually(
        [this] {
            const auto routes = json::parse(ns_->exec_checked(
                {"ip", "-j", "route", "show", "proto", "150", "dev", interface_}));
            for (const auto& route : routes) {
                if (route.value("dst", "") == kPeerNetwork) {
                    return true;
                }
            }
            return false;
        },
        kDaemonBound))
        << ns_->exec({"ip", "route"}).out << log_text();
    const auto link = json::parse(ns_->exec_checked({"ip", "-j", "link", "show", interface_}));
    ASSERT_EQ(link.size(), 1u);
    EXPECT_NE(link[0].value("flags", json::array()).dump().find("\"UP\""), std::string::npos);
    const auto addresses =
        ns_->exec_checked({"ip", "-j", "-4", "address", "show", "dev", interface_});
    EXPECT_NE(addresses.find("\"local\":\"10."), std::string::npos) << addresses;
    EXPECT_TRUE(eventually(
        [this] {
            return ns_->exec({"nft", "list", "table", "inet", "wgmesh-" + interface_}).exit_code ==
                   0;
        },
        kDaemonBound))
        << ns_->exec({"nft", "list", "ruleset"}).out << log_text();
    EXPECT_TRUE(eventually([this] { return ip_forward(*ns_) == "1"; }, kDaemonBound)) << log_text();

    // The daemon and the wireguard-go it started: uid 65534, CAP_NET_ADMIN and nothing else.
    expect_unprivileged_with_net_admin_only(pid_, "wgmesh join");
    const auto userspace = test::wireguard_go_pids(interface_);
    ASSERT_EQ(userspace.size(), 1u) << log_text();
    expect_unprivileged_with_net_admin_only(userspace.front(), "wireguard-go");
    struct stat st {};
    ASSERT_EQ(::stat((socket_dir() / (interface_ + ".sock")).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kUid);

    // Its files belong to it, private, written through the state directory's symlink: the
    // node key and the interface state (what `wgmesh cleanup` removes) now, the peer cache on
    // SIGTERM.
    const int status = stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << log_text();
    for (const auto& name :
         {interface_ + ".key", interface_ + "-peers.json", interface_ + ".state"}) {
        const fs::path file = state_dir() / name;
        ASSERT_EQ(::stat(file.c_str(), &st), 0) << file << "\n" << log_text();
        EXPECT_EQ(st.st_uid, kUid) << file;
        EXPECT_EQ(st.st_gid, kGid) << file;
        EXPECT_EQ(st.st_mode & 07777, 0600u) << file;
    }
    EXPECT_NE(read_file(state_dir() / (interface_ + "-peers.json"))
                  .find(json::parse(read_file(peers_file()))[0]["wg_pubkey"].get<std::string>()),
              std::string::npos);
}

// The control: the same user without CAP_NET_ADMIN cannot touch the kernel, so the test above
// proves what the one capability is needed for, and nothing else gives it.
TEST_F(LeastPrivilege, WithoutCapNetAdminJoinFailsAndChangesNothing) {
    spawn("");
    int status = 0;
    ASSERT_TRUE(eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, kDaemonBound))
        << log_text();
    pid_ = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status << "\n" << log_text();
    EXPECT_NE(ns_->exec({"ip", "link", "show", interface_}).exit_code, 0);
    EXPECT_EQ(ip_forward(*ns_), "0");
    EXPECT_TRUE(test::wireguard_go_pids(interface_).empty());
}

}  // namespace
}  // namespace wgmesh
