#include "wg/uapi_backend.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "netlink/interface_name.h"
#include "netlink/unique_fd.h"
#include "wg/uapi_protocol.h"

namespace wgmesh::wg {

namespace {

using netlink::UniqueFd;

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(int error, const std::string& what) {
    throw std::system_error(error, std::generic_category(), what);
}

// Connects to the socket; returns -errno instead of throwing so callers can probe.
int connect_unix(const std::string& path, int& fd_out) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path))
        return -ENAMETOOLONG;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    while (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        if (errno == EINTR)
            continue;
        const int error = errno;
        close(fd);
        return -error;
    }
    fd_out = fd;
    return 0;
}

// Waits for `events` on fd until the deadline; throws ETIMEDOUT naming the socket.
void wait_for(int fd, short events, Clock::time_point deadline, const std::string& path) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            throw_errno(ETIMEDOUT, "no answer on WireGuard UAPI socket " + path);
        pollfd pfd{fd, events, 0};
        const int n = poll(&pfd, 1, static_cast<int>(left.count()));
        if (n > 0)
            return;
        if (n < 0 && errno != EINTR)
            throw_errno(errno, "poll on WireGuard UAPI socket " + path);
    }
}

// The blank line that ends every reply, as uapi_reply_length() looks for it.
constexpr std::string_view kReplyEnd = "\n\n";

}  // namespace

std::optional<std::size_t> UapiReplyReader::append(std::string_view bytes) {
    received_.append(bytes);
    // An empty reply is the blank line alone.
    if (received_.starts_with('\n'))
        return 1;
    // Only the new bytes, and as much before them as a terminator split by the read needs.
    const std::size_t overlap = kReplyEnd.size() - 1;
    const std::size_t from = scanned_ > overlap ? scanned_ - overlap : 0;
    scanned_ = received_.size();
    const std::size_t end = received_.find(kReplyEnd, from);
    if (end == std::string::npos)
        return std::nullopt;
    return end + kReplyEnd.size();
}

UapiDevice::UapiDevice(std::string interface_name, std::string socket_directory,
                       std::chrono::milliseconds timeout)
    : name_(std::move(interface_name)), timeout_(timeout) {
    netlink::require_valid_interface_name(name_);
    socket_path_ = socket_directory + "/" + name_ + ".sock";
}

bool UapiDevice::socket_answers(const std::string& socket_path) {
    int fd = -1;
    if (connect_unix(socket_path, fd) != 0)
        return false;
    close(fd);
    return true;
}

std::string UapiDevice::exchange(std::string_view request) {
    int raw_fd = -1;
    if (const int rc = connect_unix(socket_path_, raw_fd); rc != 0)
        throw_errno(-rc, "cannot connect to WireGuard UAPI socket " + socket_path_);
    const UniqueFd fd(raw_fd);
    const auto deadline = Clock::now() + timeout_;

    std::size_t sent = 0;
    while (sent < request.size()) {
        wait_for(fd.get(), POLLOUT, deadline, socket_path_);
        const ssize_t n =
            send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            // wireguard-go stops reading at the first line it rejects and may close the
            // connection while we still write: its errno reply is then already queued for us.
            if (errno == EPIPE || errno == ECONNRESET)
                break;
            throw_errno(errno, "cannot write to WireGuard UAPI socket " + socket_path_);
        }
        sent += static_cast<std::size_t>(n);
    }

    UapiReplyReader reader;
    char buffer[65536];
    for (;;) {
        if (reader.received().size() > kMaxUapiReplyBytes)
            throw UapiProtocolError("WireGuard UAPI reply from " + socket_path_ + " exceeds " +
                                    std::to_string(kMaxUapiReplyBytes) + " bytes");
        wait_for(fd.get(), POLLIN, deadline, socket_path_);
        const ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            throw_errno(errno, "cannot read from WireGuard UAPI socket " + socket_path_);
        }
        if (n == 0) {
            throw UapiProtocolError("WireGuard UAPI socket " + socket_path_ +
                                    " closed the connection before a complete reply (" +
                                    std::to_string(reader.received().size()) + " bytes received)");
        }
        if (const auto length = reader.append({buffer, static_cast<std::size_t>(n)})) {
            if (*length != reader.received().size())
                throw UapiProtocolError("WireGuard UAPI socket " + socket_path_ +
                                        " sent bytes after its reply");
            return std::move(reader).take();
        }
    }
}

DeviceConfig UapiDevice::get() {
    const std::string reply = exchange(kUapiGetRequest);
    try {
        return parse_uapi_get_reply(reply);
    } catch (const std::system_error& e) {
        throw std::system_error(e.code(), "get from " + name_ + " (" + socket_path_ + ")");
    } catch (const UapiProtocolError& e) {
        throw UapiProtocolError(name_ + " (" + socket_path_ + "): " + e.what());
    }
}

void UapiDevice::apply_update(const DeviceUpdate& update) {
    if (update.empty())
        return;
    const std::string request = format_uapi_set_request(update);
    ++transactions_sent_;
    const std::string reply = exchange(request);
    try {
        parse_uapi_set_reply(reply);
    } catch (const std::system_error& e) {
        throw std::system_error(e.code(),
                                "set on " + name_ + " (" + socket_path_ +
                                    ") failed; lines before the rejected one were applied");
    } catch (const UapiProtocolError& e) {
        throw UapiProtocolError(name_ + " (" + socket_path_ + "): " + e.what());
    }
}

void UapiDevice::apply(const DeviceConfig& desired) {
    apply_update(compute_device_update(get(), desired));
}

DeviceUpdate UapiDevice::apply_against(const DeviceConfig& current, const DeviceConfig& desired) {
    auto update = compute_device_update(current, desired);
    apply_update(update);
    return update;
}

}  // namespace wgmesh::wg
