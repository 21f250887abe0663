#include "tests/support/probe_sockets.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace wgmesh::test {

std::uint16_t free_tcp_port() {
    netlink::UniqueFd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int off = 0;
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    socklen_t length = sizeof(any);
    if (!fd || bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0 ||
        getsockname(fd.get(), reinterpret_cast<sockaddr*>(&any), &length) != 0) {
        throw std::runtime_error(std::string("free_tcp_port: ") + std::strerror(errno));
    }
    return ntohs(any.sin6_port);
}

netlink::UniqueFd connect_tcp(const netlink::IpAddress& address, std::uint16_t port,
                              const std::optional<netlink::IpAddress>& source,
                              std::chrono::milliseconds timeout) {
    netlink::UniqueFd fd(socket(address.family_af(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        return fd;
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (source) {
        const auto local = netlink::SocketAddress{*source, 0}.to_sockaddr();
        if (bind(fd.get(), local.get(), local.length) != 0) {
            return netlink::UniqueFd();
        }
    }
    const auto target = netlink::SocketAddress{address, port}.to_sockaddr();
    if (connect(fd.get(), target.get(), target.length) != 0) {
        return netlink::UniqueFd();
    }
    return fd;
}

std::optional<std::string> send_and_read_line(int fd, const std::string& text) {
    if (send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
        return std::nullopt;
    }
    std::string line;
    char c = 0;
    while (line.size() < 4096) {
        if (recv(fd, &c, 1, 0) != 1) {
            return std::nullopt;
        }
        if (c == '\n') {
            return line;
        }
        line += c;
    }
    return std::nullopt;
}

bool closed_by_peer(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return true;
        }
    }
    return false;
}

std::size_t open_descriptors() {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/fd")) {
        ++count;
    }
    return count;
}

}  // namespace wgmesh::test
