#include "tools/wgmesh-bench/bench_support.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace wgmesh::bench {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run_quiet(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
        throw std::runtime_error("cannot run " + argv[0]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void run_or_throw(const std::vector<std::string>& argv) {
    if (run_quiet(argv) != 0) {
        std::string line;
        for (const auto& arg : argv) {
            line += arg + " ";
        }
        throw std::runtime_error("failed: " + line);
    }
}

void require_private_namespace(std::string_view group) {
    struct stat own {};
    struct stat init {};
    if (stat("/proc/self/ns/net", &own) != 0 || stat("/proc/1/ns/net", &init) != 0) {
        return;  // cannot tell; tools/bench is the documented way in any case
    }
    if (own.st_ino == init.st_ino && own.st_dev == init.st_dev) {
        throw std::runtime_error("the " + std::string(group) +
                                 " benchmark changes kernel state: run it in a private network "
                                 "namespace (tools/bench " +
                                 std::string(group) + ")");
    }
}

wg::Key bench_private_key(std::size_t i) {
    std::array<std::uint8_t, 32> bytes{};
    std::uint64_t x = 0xD1B54A32D192ED03ull * (i + 7);
    for (auto& b : bytes) {
        x ^= x >> 31;
        x *= 0x94D049BB133111EBull;
        b = static_cast<std::uint8_t>(x >> 56);
    }
    bytes[0] &= 248;
    bytes[31] = static_cast<std::uint8_t>((bytes[31] & 127) | 64);
    return wg::Key(bytes);
}

std::filesystem::path wgmesh_binary() {
    if (const char* env = std::getenv("WGMESH_BINARY"); env != nullptr && *env != '\0') {
        return env;
    }
    return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "wgmesh";
}

pid_t spawn_join(const std::vector<std::string>& args, const std::string& secret,
                 const std::filesystem::path& log) {
    const auto binary = wgmesh_binary();
    if (!std::filesystem::exists(binary)) {
        throw std::runtime_error("no wgmesh binary at " + binary.string() + " (set WGMESH_BINARY)");
    }
    std::vector<std::string> argv = {binary.string(), "join"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargs;
    for (auto& arg : argv) {
        cargs.push_back(arg.data());
    }
    cargs.push_back(nullptr);
    std::string secret_entry = "WGMESH_SECRET=";
    secret_entry += secret;
    std::vector<std::string> env_strings = {secret_entry};
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
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // Nothing else of ours: the daemon counts the netlink sockets among its fds as its own
    // (their writes are not foreign changes), and libmnl opens ours without close-on-exec.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + binary.string());
    }
    return pid;
}

long peak_rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmHWM:", 0) == 0) {
            return std::stol(line.substr(6));
        }
    }
    return 0;
}

double process_cpu_seconds(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), {});
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    const auto close = text.rfind(')');
    if (close == std::string::npos) {
        throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
    }
    std::istringstream fields(text.substr(close + 1));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    // Fields 3..13 precede utime (14) and stime (15).
    for (int i = 3; i <= 13; ++i) {
        fields >> field;
    }
    fields >> utime >> stime;
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::vector<pid_t> pids_named(const std::string& name, const std::string& argument) {
    std::vector<pid_t> result;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const auto file = entry.path().filename().string();
        if (file.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream cmdline(entry.path() / "cmdline");
        std::string text((std::istreambuf_iterator<char>(cmdline)), {});
        if (text.find(name) != std::string::npos && text.find(argument) != std::string::npos) {
            result.push_back(static_cast<pid_t>(std::stol(file)));
        }
    }
    return result;
}

}  // namespace wgmesh::bench
