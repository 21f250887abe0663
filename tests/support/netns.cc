#include "tests/support/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wgmesh::test {

std::string netns_unavailable_reason() {
    if (geteuid() != 0) {
        return "netns test skipped: needs root to create network namespaces";
    }
    if (!program_exists("ip")) {
        return "netns test skipped: iproute2 'ip' is not installed";
    }
    return "";
}

TestNamespace::TestNamespace(const std::string& tag) {
    static std::atomic<int> counter{0};
    // Kernel netns names are file names under /run/netns; keep them short and unique.
    name_ = std::string(kNamespacePrefix) + tag + "-" + std::to_string(getpid()) + "-" +
            std::to_string(counter++);
    run_checked({"ip", "netns", "add", name_});
    exec_checked({"ip", "link", "set", "lo", "up"});
}

namespace {

std::vector<pid_t> namespace_pids(const std::string& name) {
    std::vector<pid_t> pids;
    std::istringstream in(run_command({"ip", "netns", "pids", name}).out);
    for (pid_t pid = 0; in >> pid;) {
        if (pid != getpid()) {
            pids.push_back(pid);
        }
    }
    return pids;
}

}  // namespace

TestNamespace::~TestNamespace() {
    // Processes left inside (wireguard-go, daemons) would keep the namespace alive. SIGTERM
    // first (SIGCONT for a stopped one): wireguard-go then removes its UAPI socket from the
    // directory every namespace shares, which SIGKILL would leave behind. Whatever still runs
    // after the grace period, or was started meanwhile, is killed.
    using Clock = std::chrono::steady_clock;
    constexpr auto kTermGrace = std::chrono::seconds(20);
    constexpr auto kKillGrace = std::chrono::seconds(20);
    const auto term_until = Clock::now() + kTermGrace;
    const auto kill_until = term_until + kKillGrace;
    for (auto pids = namespace_pids(name_); !pids.empty() && Clock::now() < kill_until;
         pids = namespace_pids(name_)) {
        const bool terminate = Clock::now() < term_until;
        for (const pid_t pid : pids) {
            ::kill(pid, terminate ? SIGTERM : SIGKILL);
            ::kill(pid, SIGCONT);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    run_command({"ip", "netns", "del", name_});
}

CommandResult TestNamespace::exec(const std::vector<std::string>& argv,
                                  const std::string& input) const {
    std::vector<std::string> full = {"ip", "netns", "exec", name_};
    full.insert(full.end(), argv.begin(), argv.end());
    return run_command(full, input);
}

std::string TestNamespace::exec_checked(const std::vector<std::string>& argv,
                                        const std::string& input) const {
    std::vector<std::string> full = {"ip", "netns", "exec", name_};
    full.insert(full.end(), argv.begin(), argv.end());
    return run_checked(full, input);
}

TestNamespace::Scope::Scope(const std::string& name) {
    original_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (original_fd_ < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
        const std::string why = std::strerror(errno);
        if (target >= 0)
            close(target);
        if (original_fd_ >= 0)
            close(original_fd_);
        throw std::runtime_error("cannot enter namespace " + name + ": " + why);
    }
    close(target);
}

TestNamespace::Scope::~Scope() {
    if (setns(original_fd_, CLONE_NEWNET) != 0) {
        // Staying in a test namespace would make later tests touch the wrong kernel state.
        std::abort();
    }
    close(original_fd_);
}

void connect_veth(const TestNamespace& a, const std::string& a_if, const std::string& a_cidr,
                  const TestNamespace& b, const std::string& b_if, const std::string& b_cidr) {
    a.exec_checked(
        {"ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b.name()});
    a.exec_checked({"ip", "addr", "add", a_cidr, "dev", a_if});
    b.exec_checked({"ip", "addr", "add", b_cidr, "dev", b_if});
    a.exec_checked({"ip", "link", "set", a_if, "up"});
    b.exec_checked({"ip", "link", "set", b_if, "up"});
}

}  // namespace wgmesh::test
