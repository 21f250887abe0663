#include "tools/wgmesh-bench/bench_support.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
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

}  // namespace wgmesh::bench
