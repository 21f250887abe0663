#include "mesh/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "mesh/json_input.h"
#include "mesh/log.h"

namespace wgmesh::mesh {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxControlResponseBytes = 64 * 1024 * 1024;

std::system_error errno_error(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

sockaddr_un socket_address(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string text = path.string();
    if (text.size() >= sizeof(addr.sun_path)) {
        throw std::invalid_argument("control socket path too long: " + text);
    }
    std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
    return addr;
}

int connect_unix(const std::filesystem::path& path) {
    const sockaddr_un addr = socket_address(path);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw errno_error("socket");
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        const int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int remaining_ms(SteadyClock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, SteadyClock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = poll(&p, 1, remaining_ms(deadline));
        if (n > 0)
            return true;
        if (n == 0)
            return false;
        if (errno != EINTR)
            throw errno_error("poll");
    }
}

bool write_all(int fd, std::string_view data, SteadyClock::time_point deadline) {
    while (!data.empty()) {
        if (!wait_for(fd, POLLOUT, deadline))
            return false;
        const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Reads the next newline-terminated line, keeping what follows it in `pending` for the
// next call; nullopt on EOF, timeout, or a line longer than `max_bytes` (sets oversized).
std::optional<std::string> read_line(int fd, std::string& pending, std::size_t max_bytes,
                                     SteadyClock::time_point deadline, bool& oversized) {
    char buffer[65536];
    for (;;) {
        if (auto nl = pending.find('\n'); nl != std::string::npos) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            return line;
        }
        if (pending.size() > max_bytes) {
            oversized = true;
            return std::nullopt;
        }
        if (!wait_for(fd, POLLIN, deadline))
            return std::nullopt;
        const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return std::nullopt;
        pending.append(buffer, static_cast<std::size_t>(n));
    }
}

}  // namespace

std::filesystem::path default_control_socket(const std::string& interface_name) {
    return std::filesystem::path("/run/wgmesh") / (interface_name + ".sock");
}

ControlServer::ControlServer(std::filesystem::path path, ControlHandler handler,
                             std::chrono::milliseconds client_deadline)
    : path_(std::move(path)), handler_(std::move(handler)), client_deadline_(client_deadline) {
    const sockaddr_un addr = socket_address(path_);
    std::filesystem::create_directories(path_.parent_path());
    chmod(path_.parent_path().c_str(), 0700);
    if (const int live = connect_unix(path_); live >= 0) {
        close(live);
        throw std::runtime_error("another daemon already answers on " + path_.string());
    }
    unlink(path_.c_str());  // a stale socket from a killed daemon
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) {
        throw errno_error("control socket");
    }
    // The umask makes the socket 0600 from its creation; chmod alone would leave a window.
    const mode_t old_umask = umask(0177);
    const int bound = bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    const int bind_errno = errno;
    umask(old_umask);
    if (bound != 0 || listen(listen_fd_, 16) != 0) {
        errno = bound != 0 ? bind_errno : errno;
        const auto error = errno_error("control socket " + path_.string());
        close(listen_fd_);
        throw error;
    }
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) {
        const auto error = errno_error("eventfd");
        close(listen_fd_);
        unlink(path_.c_str());
        throw error;
    }
    thread_ = std::thread([this] { serve(); });
}

ControlServer::~ControlServer() {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = write(stop_fd_, &one, sizeof(one));
    thread_.join();
    close(listen_fd_);
    close(stop_fd_);
    unlink(path_.c_str());
}

void ControlServer::serve() {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error(std::string("control socket poll failed: ") + std::strerror(errno));
            return;
        }
        if (fds[1].revents != 0) {
            return;
        }
        const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) {
            continue;
        }
        serve_client(client);
        close(client);
    }
}

void ControlServer::serve_client(int fd) {
    const auto deadline = SteadyClock::now() + client_deadline_;
    bool oversized = false;
    std::string pending;
    // One connection may carry several requests, each answered in order.
    while (auto line = read_line(fd, pending, kMaxControlLineBytes, deadline, oversized)) {
        std::string reply;
        try {
            reply = format_control_result(handler_(parse_control_request(*line)));
        } catch (const std::exception& e) {
            reply = format_control_error(e.what());
        }
        if (!write_all(fd, reply, deadline)) {
            return;
        }
    }
    if (oversized) {
        write_all(fd, format_control_error("request line too long"), deadline);
    }
}

nlohmann::json control_call(const std::filesystem::path& path, const ControlRequest& request,
                            std::chrono::milliseconds timeout) {
    const int fd = connect_unix(path);
    if (fd < 0) {
        throw std::runtime_error("cannot reach the wgmesh daemon at " + path.string() + ": " +
                                 std::strerror(errno));
    }
    const auto deadline = SteadyClock::now() + timeout;
    std::optional<std::string> line;
    bool oversized = false;
    std::string pending;
    if (write_all(fd, format_control_request(request), deadline)) {
        // Responses (peer lists) may be far larger than a request.
        line = read_line(fd, pending, kMaxControlResponseBytes, deadline, oversized);
    }
    close(fd);
    if (!line) {
        throw std::runtime_error("no answer from the wgmesh daemon at " + path.string());
    }
    std::string error;
    const auto parsed = parse_json_bounded(
        *line, JsonLimits{.max_bytes = kMaxControlResponseBytes, .max_depth = 64}, error);
    if (!parsed) {
        throw std::runtime_error("garbled answer from the daemon: " + error);
    }
    const nlohmann::json& response = *parsed;
    if (!response.is_object() || !response.contains("ok") || !response["ok"].is_boolean()) {
        throw std::runtime_error("garbled answer from the daemon: no \"ok\" field");
    }
    return response;
}

}  // namespace wgmesh::mesh
