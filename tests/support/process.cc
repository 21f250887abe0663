#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace wgmesh::test {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) {
        close(fd);
        fd = -1;
    }
}

// Feeds stdin and drains stdout/stderr together so neither side blocks on a full pipe.
void pump(int in_fd, const std::string& input, int out_fd, int err_fd, CommandResult& result) {
    std::size_t written = 0;
    if (input.empty())
        close_fd(in_fd);
    char buffer[65536];
    while (out_fd >= 0 || err_fd >= 0) {
        pollfd fds[3] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
            if (n <= 0) {
                close_fd(i == 0 ? out_fd : err_fd);
            } else {
                (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
            }
        }
        if (in_fd >= 0 && fds[2].revents != 0) {
            const ssize_t n = write(in_fd, input.data() + written, input.size() - written);
            if (n <= 0) {
                close_fd(in_fd);
            } else if ((written += static_cast<std::size_t>(n)) == input.size()) {
                close_fd(in_fd);
            }
        }
    }
    close_fd(in_fd);
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input) {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<char*> cargv;
    for (const auto& a : argv)
        cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    CommandResult result;
    if (rc != 0) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        close(err_pipe[0]);
        result.exit_code = 127;
        result.err = "cannot run " + argv[0] + ": " + std::strerror(rc);
        return result;
    }
    pump(in_pipe[1], input, out_pipe[0], err_pipe[0], result);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

std::string run_checked(const std::vector<std::string>& argv, const std::string& input) {
    CommandResult result = run_command(argv, input);
    if (result.exit_code != 0) {
        std::string line;
        for (const auto& a : argv)
            line += (line.empty() ? "" : " ") + a;
        throw std::runtime_error("'" + line + "' exited " + std::to_string(result.exit_code) +
                                 ": " + result.err);
    }
    return result.out;
}

bool program_exists(const std::string& name) {
    return run_command({"sh", "-c", "command -v \"$0\"", name}).exit_code == 0;
}

}  // namespace wgmesh::test
