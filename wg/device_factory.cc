#include "wg/device_factory.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "netlink/interface_name.h"
#include "netlink/link.h"
#include "netlink/socket.h"
#include "netlink/unique_fd.h"
#include "wg/kernel_backend.h"

extern char** environ;

namespace wgmesh::wg {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(20);
// How long a userspace daemon gets to exit by itself once its TUN device is gone.
constexpr auto kExitGrace = std::chrono::seconds(3);

std::string socket_path(const std::string& name, const DeviceOptions& options) {
    return options.socket_directory + "/" + name + ".sock";
}

std::vector<std::string> read_cmdline(const std::filesystem::path& proc_dir) {
    std::ifstream in(proc_dir / "cmdline", std::ios::binary);
    std::vector<std::string> argv;
    for (std::string arg; std::getline(in, arg, '\0');)
        argv.push_back(arg);
    return argv;
}

// Only a process in our own network namespace may be stopped: the socket directory is shared
// with every other namespace, where an interface of the same name may live.
bool in_our_network_namespace(pid_t pid) {
    struct stat ours {};
    struct stat theirs {};
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    return stat("/proc/thread-self/ns/net", &ours) == 0 && stat(path.c_str(), &theirs) == 0 &&
           ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev;
}

// The userspace daemons serving `name` in this namespace: processes of `program` whose last
// argument is the interface name. wireguard-go's daemon keeps the argv of the launcher we
// started, which has exited by then, so the pid must be found rather than remembered; this
// also finds the daemon of an interface adopted after a restart.
std::vector<pid_t> userspace_pids(const std::string& name, const std::string& program) {
    const std::string program_name = std::filesystem::path(program).filename();
    std::vector<pid_t> pids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid_text = entry.path().filename();
        if (pid_text.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const auto argv = read_cmdline(entry.path());
        if (argv.size() < 2 || argv.back() != name ||
            std::filesystem::path(argv.front()).filename() != program_name)
            continue;
        const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
        if (pid != getpid() && in_our_network_namespace(pid))
            pids.push_back(pid);
    }
    return pids;
}

// A zombie counts as gone: the daemon's parent has exited, and whether init reaps it soon is
// out of our hands.
bool process_alive(pid_t pid) {
    waitpid(pid, nullptr, WNOHANG);  // reaps it if it happens to be our child
    std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat_file, line))
        return false;
    // "pid (comm) state ...": comm may contain spaces and parentheses, the state follows the
    // last ')'.
    const auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z' &&
           line[paren + 2] != 'X';
}

bool wait_until_gone(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (process_alive(pid)) {
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(kPollInterval);
    }
    return true;
}

// A daemon blocks its signals (to read them from a signalfd) and ignores SIGPIPE, and both are
// inherited across exec: a userspace implementation started mid-run would keep SIGTERM
// blocked and SIGPIPE ignored (wireguard-go's Go runtime happens to reset them; another
// --userspace program need not). Every child starts with an empty mask and the default
// action for the signals a caller may have changed.
class CleanSpawnAttributes {
  public:
    CleanSpawnAttributes() {
        check(posix_spawnattr_init(&attributes_), "posix_spawnattr_init");
        sigset_t empty;
        sigemptyset(&empty);
        sigset_t defaults;
        sigemptyset(&defaults);
        for (const int signal : kResetSignals)
            sigaddset(&defaults, signal);
        try {
            check(posix_spawnattr_setsigmask(&attributes_, &empty), "posix_spawnattr_setsigmask");
            check(posix_spawnattr_setsigdefault(&attributes_, &defaults),
                  "posix_spawnattr_setsigdefault");
            check(posix_spawnattr_setflags(&attributes_,
                                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
                  "posix_spawnattr_setflags");
        } catch (...) {
            posix_spawnattr_destroy(&attributes_);
            throw;
        }
    }
    ~CleanSpawnAttributes() { posix_spawnattr_destroy(&attributes_); }
    CleanSpawnAttributes(const CleanSpawnAttributes&) = delete;
    CleanSpawnAttributes& operator=(const CleanSpawnAttributes&) = delete;
    const posix_spawnattr_t* get() const { return &attributes_; }

  private:
    static constexpr int kResetSignals[] = {SIGPIPE, SIGTERM, SIGINT,  SIGHUP, SIGQUIT,
                                            SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM};
    static void check(int rc, const char* what) {
        if (rc != 0)
            throw std::system_error(rc, std::generic_category(), what);
    }
    posix_spawnattr_t attributes_{};
};

// Runs `program name` and waits for the launcher to exit (wireguard-go daemonizes).
void start_userspace(const std::string& name, const DeviceOptions& options) {
    std::vector<std::string> argv_text = {options.userspace_program, name};
    std::vector<char*> argv;
    for (auto& arg : argv_text)
        argv.push_back(arg.data());
    argv.push_back(nullptr);
    const CleanSpawnAttributes attributes;
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], nullptr, attributes.get(), argv.data(), environ);
    if (rc != 0) {
        throw std::system_error(
            rc, std::generic_category(),
            "cannot start userspace WireGuard '" + options.userspace_program + "' for " + name);
    }
    const auto deadline = Clock::now() + options.start_timeout;
    int status = 0;
    for (;;) {
        const pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            break;
        if (done < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(),
                                    "waiting for '" + options.userspace_program + "'");
        }
        if (Clock::now() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            throw std::runtime_error("userspace WireGuard '" + options.userspace_program +
                                     "' for " + name + " did not finish starting within " +
                                     std::to_string(options.start_timeout.count()) + " ms");
        }
        std::this_thread::sleep_for(kPollInterval);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const std::string how = WIFEXITED(status)
                                    ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                    : "was killed by signal " + std::to_string(WTERMSIG(status));
        throw std::runtime_error("userspace WireGuard '" + options.userspace_program + "' for " +
                                 name + " " + how + " (its reason is on stderr)");
    }
}

void wait_for_socket(const std::string& name, const DeviceOptions& options) {
    const std::string path = socket_path(name, options);
    const auto deadline = Clock::now() + options.start_timeout;
    while (!UapiDevice::socket_answers(path)) {
        if (Clock::now() >= deadline) {
            throw std::runtime_error("userspace WireGuard '" + options.userspace_program +
                                     "' for " + name + " started but " + path + " does not answer");
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

// True only when the socket file exists and nobody listens on it (ECONNREFUSED): the server
// died without removing it (SIGKILL). A socket that is slow or busy is not stale.
bool socket_is_stale(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path))
        return false;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const netlink::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        return false;
    return connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 &&
           errno == ECONNREFUSED;
}

// Which backend serves the existing link `link`, as far as options.backend allows.
Backend adopted_backend(const std::string& name, const netlink::LinkInfo& link, bool socket_answers,
                        const std::string& path, const DeviceOptions& options) {
    const bool kernel_link = link.kind == "wireguard";
    switch (options.backend) {
        case BackendChoice::kUserspace:
            if (socket_answers)
                return Backend::kUserspace;
            if (kernel_link) {
                throw std::runtime_error(
                    "interface " + name +
                    " is a kernel WireGuard interface, but the userspace backend "
                    "was chosen and nothing answers on " +
                    path);
            }
            break;
        case BackendChoice::kKernel:
            if (kernel_link)
                return Backend::kKernel;
            if (socket_answers) {
                throw std::runtime_error("interface " + name +
                                         " is served by userspace WireGuard on " + path +
                                         ", but the kernel backend was chosen");
            }
            break;
        case BackendChoice::kAuto:
            if (socket_answers)
                return Backend::kUserspace;
            if (kernel_link)
                return Backend::kKernel;
            break;
    }
    throw std::runtime_error("interface " + name + " exists but is not WireGuard (kind '" +
                             link.kind + "') and no userspace implementation answers on " + path);
}

// Creates `name` with the backend options.backend allows; returns the one used.
Backend create_interface(netlink::NetlinkSocket& rtnl, const std::string& name,
                         const DeviceOptions& options) {
    if (options.backend != BackendChoice::kUserspace) {
        try {
            netlink::create_link(rtnl, name, "wireguard");
            return Backend::kKernel;
        } catch (const std::system_error& e) {
            if (e.code().value() != EOPNOTSUPP)
                throw;
            // "Unknown device type": this kernel has no WireGuard module.
            if (options.backend == BackendChoice::kKernel) {
                throw std::system_error(e.code(), "cannot create " + name +
                                                      ": the kernel backend was chosen, but this "
                                                      "kernel has no WireGuard (" +
                                                      e.what() + ")");
            }
        }
    }
    start_userspace(name, options);
    wait_for_socket(name, options);
    return Backend::kUserspace;
}

std::unique_ptr<WireGuardDevice> open_backend(const std::string& name, Backend backend,
                                              const DeviceOptions& options) {
    if (backend == Backend::kUserspace)
        return std::make_unique<UapiDevice>(name, options.socket_directory);
    return std::make_unique<KernelDevice>(name);
}

}  // namespace

std::optional<BackendChoice> parse_backend_choice(std::string_view text) {
    for (const auto choice :
         {BackendChoice::kAuto, BackendChoice::kKernel, BackendChoice::kUserspace}) {
        if (text == backend_choice_name(choice))
            return choice;
    }
    return std::nullopt;
}

std::string_view backend_choice_name(BackendChoice choice) {
    switch (choice) {
        case BackendChoice::kKernel:
            return "kernel";
        case BackendChoice::kUserspace:
            return "userspace";
        case BackendChoice::kAuto:
            break;
    }
    return "auto";
}

Backend detect_backend(const std::string& name, const DeviceOptions& options) {
    netlink::require_valid_interface_name(name);
    return UapiDevice::socket_answers(socket_path(name, options)) ? Backend::kUserspace
                                                                  : Backend::kKernel;
}

std::unique_ptr<WireGuardDevice> open_device(const std::string& name,
                                             const DeviceOptions& options) {
    switch (options.backend) {
        case BackendChoice::kKernel:
            return open_backend(name, Backend::kKernel, options);
        case BackendChoice::kUserspace:
            return open_backend(name, Backend::kUserspace, options);
        case BackendChoice::kAuto:
            break;
    }
    return open_backend(name, detect_backend(name, options), options);
}

EnsuredInterface ensure_interface(const std::string& name, const DeviceOptions& options) {
    netlink::require_valid_interface_name(name);
    netlink::NetlinkSocket rtnl(NETLINK_ROUTE);
    const std::string path = socket_path(name, options);
    const bool socket_answers = UapiDevice::socket_answers(path);
    EnsuredInterface result;

    if (const auto link = netlink::find_link(rtnl, name)) {
        result.backend = adopted_backend(name, *link, socket_answers, path, options);
    } else {
        // The socket directory is shared by every network namespace; a kernel interface does
        // not use it.
        if (socket_answers && options.backend != BackendChoice::kKernel) {
            throw std::runtime_error("interface " + name + " does not exist here, but " + path +
                                     " is served by an interface of that name in another "
                                     "network namespace");
        }
        result.backend = create_interface(rtnl, name, options);
        result.created = true;
    }
    netlink::set_link_up(rtnl, name, true);
    result.device = open_backend(name, result.backend, options);
    return result;
}

bool remove_interface(const std::string& name, const DeviceOptions& options) {
    netlink::require_valid_interface_name(name);
    netlink::NetlinkSocket rtnl(NETLINK_ROUTE);
    const bool existed = netlink::find_link(rtnl, name).has_value();
    // SIGTERM first: wireguard-go then closes its TUN device and removes its socket itself.
    const auto pids = userspace_pids(name, options.userspace_program);
    for (const pid_t pid : pids)
        kill(pid, SIGTERM);
    for (const pid_t pid : pids) {
        if (!wait_until_gone(pid, kExitGrace)) {
            kill(pid, SIGKILL);
            wait_until_gone(pid, kExitGrace);
        }
    }
    netlink::delete_link(rtnl, name);
    // A killed daemon (now, or SIGKILLed before we were called) leaves its socket behind; like
    // wg(8), drop it once nobody listens on it.
    const std::string path = socket_path(name, options);
    if (socket_is_stale(path))
        unlink(path.c_str());
    return existed || !pids.empty();
}

}  // namespace wgmesh::wg
