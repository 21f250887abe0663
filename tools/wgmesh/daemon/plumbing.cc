#include "tools/wgmesh/daemon/plumbing.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "mesh/control_server.h"
#include "mesh/log.h"
#include "netlink/socket.h"
#include "tools/wgmesh/daemon/service_notify.h"

namespace wgmesh::cli {
namespace {

using namespace std::chrono_literals;

constexpr auto kWakerPoll = 250ms;

std::system_error errno_error(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

}  // namespace

SignalSet::SignalSet(std::initializer_list<int> signals) {
    sigset_t mask;
    sigemptyset(&mask);
    for (const int sig : signals) {
        sigaddset(&mask, sig);
    }
    if (const int rc = ::pthread_sigmask(SIG_BLOCK, &mask, &previous_); rc != 0) {
        throw std::system_error(rc, std::generic_category(), "cannot block signals");
    }
    fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd_ < 0) {
        const auto error = errno_error("cannot create a signalfd");
        ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
        throw error;
    }
}

SignalSet::~SignalSet() {
    // A signal that came during the shutdown (a second SIGTERM) is part of the same stop:
    // taken here, it is not delivered by its default action when the mask is restored,
    // which would end a daemon that shut down cleanly with status 143.
    while (take() != 0) {
    }
    ::close(fd_);
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

int SignalSet::take() const {
    signalfd_siginfo info{};
    const ssize_t n = ::read(fd_, &info, sizeof(info));
    return n == static_cast<ssize_t>(sizeof(info)) ? static_cast<int>(info.ssi_signo) : 0;
}

StoreWaker::StoreWaker(mesh::PeerStore& store) : subscription_(store.subscribe()) {
    fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0) {
        throw errno_error("cannot create an eventfd");
    }
    thread_ = std::thread([this] { run(); });
}

StoreWaker::~StoreWaker() {
    stop();
    ::close(fd_);
}

void StoreWaker::stop() {
    stopping_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
}

void StoreWaker::run() {
    while (!stopping_) {
        const bool event = subscription_->pop_for(kWakerPoll).has_value();
        const bool overflow = subscription_->take_overflow();
        if (event || overflow) {
            while (subscription_->try_pop()) {
            }
            const std::uint64_t one = 1;
            [[maybe_unused]] const auto written = ::write(fd_, &one, sizeof(one));
        }
    }
}

bool StoreWaker::take() const {
    std::uint64_t count = 0;
    return ::read(fd_, &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count)) && count > 0;
}

Wakeup wait_for_events(const SignalSet& signals, const StoreWaker& waker, int kernel_fd,
                       int health_fd, std::chrono::steady_clock::time_point deadline) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    // Rounded up, so the loop never spins on a deadline that is less than 1 ms away.
    const int timeout = static_cast<int>(std::clamp<std::int64_t>(remaining.count() + 1, 0, 60000));
    // poll() skips negative descriptors, so an absent kernel or health fd costs nothing.
    pollfd fds[4] = {{signals.fd(), POLLIN, 0},
                     {waker.fd(), POLLIN, 0},
                     {kernel_fd, POLLIN, 0},
                     {health_fd, POLLIN, 0}};
    if (::poll(fds, 4, timeout) < 0 && errno != EINTR) {
        throw errno_error("poll");
    }
    Wakeup wakeup;
    if (fds[0].revents & POLLIN) {
        wakeup.signal = signals.take();
    }
    if (fds[1].revents & POLLIN) {
        wakeup.store_changed = waker.take();
    }
    wakeup.kernel_event = kernel_fd >= 0 && (fds[2].revents & POLLIN) != 0;
    wakeup.health_event = health_fd >= 0 && (fds[3].revents & POLLIN) != 0;
    return wakeup;
}

Watchdog::Watchdog() : next_(std::chrono::steady_clock::time_point::max()) {
    if (const auto period = service_watchdog_period()) {
        period_ = *period / 2;
        next_ = std::chrono::steady_clock::now();
    }
}

void Watchdog::ping_if_due(std::chrono::steady_clock::time_point now) {
    if (enabled() && now >= next_) {
        ping();
    }
}

void Watchdog::ping() {
    if (!enabled()) {
        return;
    }
    notify_service_manager("WATCHDOG=1");
    next_ = std::chrono::steady_clock::now() + period_;
}

std::chrono::milliseconds parse_interval(std::string_view flag, std::string_view text) {
    std::string_view number = text;
    long scale = 1000;
    if (number.ends_with("ms")) {
        number.remove_suffix(2);
        scale = 1;
    } else if (number.ends_with("s")) {
        number.remove_suffix(1);
    }
    long value = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    // The value is bounded before it is scaled, so the multiplication cannot overflow.
    const bool parsed = !number.empty() && ec == std::errc() &&
                        end == number.data() + number.size() && value > 0 && value <= 3600 * 1000;
    const std::chrono::milliseconds interval(parsed ? value * scale : 0);
    if (!parsed || interval < 50ms || interval > 1h) {
        throw UsageError("--" + std::string(flag) + ": '" + std::string(text) +
                         "' is not a duration between 50ms and 3600s (e.g. 5s, 500ms)");
    }
    return interval;
}

RecordingAddressSet::RecordingAddressSet(std::string interface, OnReplace on_replace)
    : inner_(std::move(interface)), on_replace_(std::move(on_replace)) {}

std::vector<netlink::InterfaceAddress> RecordingAddressSet::list() {
    return inner_.list();
}

void RecordingAddressSet::replace(const std::optional<netlink::InterfaceAddress>& previous,
                                  const netlink::InterfaceAddress& replacement) {
    inner_.replace(previous, replacement);
    if (on_replace_) {
        on_replace_(previous, replacement);
    }
}

void ensure_addresses(netlink::AddressSet& addresses,
                      const std::vector<netlink::InterfaceAddress>& recorded,
                      const netlink::InterfaceAddress& v4,
                      const std::optional<netlink::InterfaceAddress>& v6) {
    const auto current = addresses.list();
    const auto present = [&](const netlink::InterfaceAddress& a) {
        return std::find(current.begin(), current.end(), a) != current.end();
    };
    for (const auto* wanted : {&v4, v6 ? &*v6 : nullptr}) {
        if (wanted == nullptr || present(*wanted)) {
            continue;
        }
        std::optional<netlink::InterfaceAddress> previous;
        for (const auto& old : recorded) {
            if (old.address.family() == wanted->address.family() && old != *wanted &&
                present(old)) {
                previous = old;
            }
        }
        addresses.replace(previous, *wanted);
    }
}

bool daemon_answers(const std::filesystem::path& socket) {
    try {
        return mesh::control_call(socket, {"status", nlohmann::json::object()}, 2s)
            .value("ok", false);
    } catch (const std::exception&) {
        return false;
    }
}

std::vector<netlink::Prefix> local_subnets(const std::string& mesh_interface) {
    std::vector<netlink::Prefix> subnets;
    struct if_nameindex* names = ::if_nameindex();
    if (names == nullptr) {
        return subnets;
    }
    try {
        netlink::NetlinkSocket socket;
        for (auto* entry = names; entry->if_index != 0; ++entry) {
            if (mesh_interface == entry->if_name) {
                continue;
            }
            for (const auto& address :
                 netlink::list_addresses(socket, static_cast<int>(entry->if_index))) {
                subnets.emplace_back(address.address, address.prefix_length);
            }
        }
    } catch (const std::exception& e) {
        mesh::log_debug(std::string("listing local subnets: ") + e.what());
    }
    ::if_freenameindex(names);
    std::sort(subnets.begin(), subnets.end());
    subnets.erase(std::unique(subnets.begin(), subnets.end()), subnets.end());
    return subnets;
}

}  // namespace wgmesh::cli
