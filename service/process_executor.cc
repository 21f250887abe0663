#include "service/process_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "netlink/unique_fd.h"

extern char** environ;

namespace wgmesh::service {

namespace {

using netlink::UniqueFd;

using Clock = std::chrono::steady_clock;

// Without pidfd_open (Linux < 5.3) the child's exit is noticed by polling this often.
constexpr std::chrono::milliseconds kExitPollInterval{20};

struct Pipe {
    UniqueFd read;
    UniqueFd write;
};

Pipe make_pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "pipe2 for a child's output");
    }
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

class SpawnActions {
  public:
    SpawnActions() { posix_spawn_file_actions_init(&actions_); }
    ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
    posix_spawn_file_actions_t* get() { return &actions_; }

  private:
    posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
  public:
    SpawnAttributes() { posix_spawnattr_init(&attributes_); }
    ~SpawnAttributes() { posix_spawnattr_destroy(&attributes_); }
    SpawnAttributes(const SpawnAttributes&) = delete;
    SpawnAttributes& operator=(const SpawnAttributes&) = delete;
    posix_spawnattr_t* get() { return &attributes_; }

  private:
    posix_spawnattr_t attributes_;
};

std::vector<std::string> child_environment(const std::vector<std::string>& removed) {
    std::vector<std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const std::string_view name = text.substr(0, text.find('='));
        if (std::find(removed.begin(), removed.end(), name) == removed.end()) {
            env.emplace_back(text);
        }
    }
    return env;
}

std::vector<char*> pointers(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (const auto& s : strings) {
        out.push_back(const_cast<char*>(s.c_str()));
    }
    out.push_back(nullptr);
    return out;
}

// Spawns argv with stdout/stderr on the pipes' write ends, in its own process group (so a
// timeout reaches its children too), with default signal dispositions and an empty mask.
// Returns the pid, or the errno of the failure.
std::pair<pid_t, int> spawn(const std::vector<std::string>& argv,
                            const std::vector<std::string>& env, const Pipe& out, const Pipe& err) {
    SpawnActions actions;
    posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(actions.get(), out.write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(actions.get(), err.write.get(), STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1);

    SpawnAttributes attributes;
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(attributes.get(), &none);
    posix_spawnattr_setsigdefault(attributes.get(), &all);
    posix_spawnattr_setpgroup(attributes.get(), 0);
    posix_spawnattr_setflags(
        attributes.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

    auto args = pointers(argv);
    auto envp = pointers(env);
    pid_t pid = -1;
    const bool has_path = argv.front().find('/') != std::string::npos;
    const int rc = has_path ? posix_spawn(&pid, args[0], actions.get(), attributes.get(),
                                          args.data(), envp.data())
                            : posix_spawnp(&pid, args[0], actions.get(), attributes.get(),
                                           args.data(), envp.data());
    return {pid, rc};
}

void append_capped(std::string& target, const char* data, std::size_t size) {
    const std::size_t room = ProcessExecutor::kMaxCapturedBytes - target.size();
    target.append(data, std::min(room, size));
}

// Reads what is available; closes the fd at end of file or on an error.
void drain(UniqueFd& fd, std::string& target) {
    char buffer[16384];
    while (fd) {
        const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
        if (n > 0) {
            append_capped(target, buffer, static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else {
            fd.reset();
        }
    }
}

void signal_child(pid_t pid, int signal) {
    kill(-pid, signal);  // the process group: whatever the child started
    kill(pid, signal);   // and the child itself, should it have left the group
}

std::optional<int> reap(pid_t pid, int flags) {
    int status = 0;
    pid_t rc;
    do {
        rc = waitpid(pid, &status, flags);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno == ECHILD) {
        return -1;  // reaped elsewhere (SIGCHLD ignored): the status is lost, not pending
    }
    if (rc != pid) {
        return std::nullopt;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int milliseconds_until(Clock::time_point when) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now());
    return static_cast<int>(std::clamp<long long>(left.count(), 0, 60'000));
}

}  // namespace

ProcessExecutor::ProcessExecutor(std::vector<std::string> removed_variables)
    : removed_variables_(std::move(removed_variables)) {}

CommandOutcome ProcessExecutor::run(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout) {
    CommandOutcome outcome;
    if (argv.empty() || argv.front().empty()) {
        outcome.err = "cannot run an empty command";
        return outcome;
    }
    Pipe out = make_pipe();
    Pipe err = make_pipe();
    const auto [pid, spawn_error] = spawn(argv, child_environment(removed_variables_), out, err);
    out.write.reset();
    err.write.reset();
    if (spawn_error != 0) {
        outcome.err = "cannot run '" + argv.front() + "': " + std::strerror(spawn_error);
        return outcome;
    }
    fcntl(out.read.get(), F_SETFL, O_NONBLOCK);
    fcntl(err.read.get(), F_SETFL, O_NONBLOCK);
    const UniqueFd exit_fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

    const auto deadline = Clock::now() + timeout;
    std::optional<Clock::time_point> kill_at;  // set once SIGTERM has been sent
    bool killed = false;
    std::optional<int> exit_code;
    while (!(exit_code = reap(pid, WNOHANG))) {
        if (!kill_at && Clock::now() >= deadline) {
            signal_child(pid, SIGTERM);
            outcome.timed_out = true;
            kill_at = Clock::now() + kKillGrace;
        }
        if (kill_at && !killed && Clock::now() >= *kill_at) {
            signal_child(pid, SIGKILL);
            killed = true;
        }
        pollfd fds[3] = {
            {out.read.get(), POLLIN, 0}, {err.read.get(), POLLIN, 0}, {exit_fd.get(), POLLIN, 0}};
        int wait_ms = milliseconds_until(kill_at ? *kill_at : deadline);
        if (!exit_fd || killed) {
            wait_ms = std::min(wait_ms, static_cast<int>(kExitPollInterval.count()));
        }
        if (poll(fds, 3, wait_ms) < 0 && errno != EINTR) {
            signal_child(pid, SIGKILL);
            reap(pid, 0);
            throw std::system_error(errno, std::generic_category(), "poll on a child's output");
        }
        drain(out.read, outcome.out);
        drain(err.read, outcome.err);
    }
    // What the child wrote before it exited; descendants that still hold the pipes open
    // are not waited for.
    drain(out.read, outcome.out);
    drain(err.read, outcome.err);
    outcome.exit_code = *exit_code;
    return outcome;
}

}  // namespace wgmesh::service
