#include "tools/wgmesh/daemon/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "netlink/unique_fd.h"

namespace wgmesh::cli {
namespace {

// A decimal without sign, spaces or trailing text, as systemd writes it.
template <typename Number>
std::optional<Number> parse_decimal(const char* text) {
    if (text == nullptr) {
        return std::nullopt;
    }
    const std::string_view view(text);
    Number value{};
    const auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), value);
    if (view.empty() || error != std::errc{} || end != view.data() + view.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

bool notify_service_manager(std::string_view state) {
    const char* socket_name = std::getenv("NOTIFY_SOCKET");
    if (socket_name == nullptr) {
        return false;
    }
    const std::string_view name(socket_name);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // A path, or "@name" for the abstract namespace (its first byte becomes NUL). Other forms
    // ("vsock:…", for managers outside a VM) do not apply to a daemon on the host it manages.
    if (name.size() < 2 || (name[0] != '/' && name[0] != '@') ||
        name.size() >= sizeof address.sun_path) {
        return false;
    }
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name[0] == '@') {
        address.sun_path[0] = '\0';
    }
    // An abstract name's length is exact; a path's includes its NUL.
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                               (name[0] == '/' ? 1 : 0));

    netlink::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        return false;
    }
    ssize_t sent = 0;
    do {
        sent = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&address), length);
    } while (sent < 0 && errno == EINTR);
    return sent == static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> service_watchdog_period() {
    const auto usec = parse_decimal<std::uint64_t>(std::getenv("WATCHDOG_USEC"));
    if (!usec || *usec == 0 || *usec > static_cast<std::uint64_t>(INT64_MAX)) {
        return std::nullopt;
    }
    // Set by the manager for its main process only; a child that inherited the environment
    // must not ping for it.
    if (const char* pid_text = std::getenv("WATCHDOG_PID"); pid_text != nullptr) {
        const auto pid = parse_decimal<pid_t>(pid_text);
        if (!pid || *pid != ::getpid()) {
            return std::nullopt;
        }
    }
    return std::chrono::microseconds(static_cast<std::int64_t>(*usec));
}

}  // namespace wgmesh::cli
