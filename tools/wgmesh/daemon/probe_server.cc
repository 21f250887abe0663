#include "tools/wgmesh/daemon/probe_server.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "mesh/log.h"
#include "tools/wgmesh/daemon/probe_lines.h"

namespace wgmesh::cli {

namespace {

using Clock = std::chrono::steady_clock;
using netlink::IpAddress;
using netlink::UniqueFd;

constexpr std::size_t kReadChunk = 1024;
constexpr int kListenBacklog = 128;
constexpr int kEventsPerWait = 64;
// Accepts per readiness of a listener, so one flooded listener does not starve the rest.
constexpr int kAcceptsPerWakeup = 64;
// Out of descriptors: the pending connection stays in the backlog and the listener stays
// readable, so accepting pauses instead of spinning.
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr std::string_view kPongLine = "pong\n";

std::string endpoint_text(const IpAddress& address, std::uint16_t port) {
    return netlink::SocketAddress{address, port}.to_string();
}

std::string errno_text(const char* what, int error) {
    std::string text(what);
    text += ": ";
    text += std::strerror(error);
    return text;
}

std::optional<IpAddress> source_address(const sockaddr_storage& peer) {
    if (peer.ss_family == AF_INET) {
        return IpAddress::v4(reinterpret_cast<const sockaddr_in&>(peer).sin_addr);
    }
    if (peer.ss_family == AF_INET6) {
        return IpAddress::v6(reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr);
    }
    return std::nullopt;
}

int milliseconds_until(Clock::time_point deadline, Clock::time_point now) {
    if (deadline <= now) {
        return 0;
    }
    // Rounded up: waking a little early would only loop once more.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    return static_cast<int>(std::min<long long>(left, 60'000));
}

}  // namespace

struct ProbeServer::Listener {
    IpAddress address;
    unsigned ifindex = 0;
    UniqueFd fd;
};

struct ProbeServer::Connection {
    UniqueFd fd;
    IpAddress source;
    ProbeLineReader reader;
    std::string unsent;  // pongs the socket did not take yet
    Clock::time_point accepted_at;
    std::optional<Clock::time_point> last_ping;
    Clock::time_point deadline;  // read deadline, or write deadline while `writing`
    bool writing = false;        // waiting to write `unsent`, not reading meanwhile
};

// The serving thread's state: only that thread touches it.
class ProbeServer::Loop {
  public:
    explicit Loop(ProbeServer& server) : server_(server) {
        epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
        if (!epoll_) {
            throw std::runtime_error(errno_text("probe server: epoll_create1", errno));
        }
        watch(server_.wake_fd_.get(), EPOLLIN);
    }

    void run();

  private:
    enum Family { kIpv4 = 0, kIpv6 = 1 };

    void watch(int fd, std::uint32_t events);
    void rewatch(int fd, std::uint32_t events);
    bool apply_addresses(const std::optional<IpAddress>& ipv4,
                         const std::optional<IpAddress>& ipv6);
    bool apply_family(Family family, const std::optional<IpAddress>& wanted, unsigned ifindex);
    std::string open_listener(Listener& listener);
    void accept_from(Listener& listener, Clock::time_point now);
    void pause_accepting(Clock::time_point now, int error);
    void resume_accepting_if_due(Clock::time_point now);
    void make_room_for(const IpAddress& source);
    void evict_least_useful(const IpAddress* of_source);
    void on_connection_event(Connection& connection, std::uint32_t events, Clock::time_point now);
    void read_from(Connection& connection, Clock::time_point now);
    bool flush(Connection& connection);
    void close_connection(int fd);
    void expire(Clock::time_point now);
    int wait_timeout(Clock::time_point now) const;
    bool handle_wake();
    void publish();

    ProbeServer& server_;
    UniqueFd epoll_;
    std::array<std::optional<Listener>, 2> listeners_;
    std::array<std::string, 2> errors_;  // why a wanted listener is not open, by family
    std::unordered_map<int, Connection> connections_;
    std::unordered_map<IpAddress, std::size_t> per_source_;
    std::optional<Clock::time_point> accept_paused_until_;
    ProbeServerCounters counters_;
};

void ProbeServer::Loop::watch(int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
        throw std::runtime_error(errno_text("probe server: epoll_ctl add", errno));
    }
}

void ProbeServer::Loop::rewatch(int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) {
        throw std::runtime_error(errno_text("probe server: epoll_ctl mod", errno));
    }
}

void ProbeServer::Loop::run() {
    std::array<epoll_event, kEventsPerWait> events{};
    for (;;) {
        const int ready =
            epoll_wait(epoll_.get(), events.data(), kEventsPerWait, wait_timeout(Clock::now()));
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::runtime_error(errno_text("probe server: epoll_wait", errno));
        }
        const auto now = Clock::now();
        bool woken = false;
        std::array<bool, 2> acceptable{};
        // Connections first: a ping read in this batch ranks its connection before the
        // accepts of the same batch look for one to close.
        for (int i = 0; i < ready; ++i) {
            const int fd = events[i].data.fd;
            if (fd == server_.wake_fd_.get()) {
                woken = true;
                continue;
            }
            bool is_listener = false;
            for (std::size_t family = 0; family < listeners_.size(); ++family) {
                if (listeners_[family] && listeners_[family]->fd.get() == fd) {
                    acceptable[family] = true;
                    is_listener = true;
                }
            }
            if (is_listener) {
                continue;
            }
            if (auto it = connections_.find(fd); it != connections_.end()) {
                on_connection_event(it->second, events[i].events, now);
            }
        }
        for (std::size_t family = 0; family < listeners_.size(); ++family) {
            if (acceptable[family] && listeners_[family] && !accept_paused_until_) {
                accept_from(*listeners_[family], now);
            }
        }
        expire(now);
        resume_accepting_if_due(now);
        if (woken && !handle_wake()) {
            return;
        }
        publish();
    }
}

int ProbeServer::Loop::wait_timeout(Clock::time_point now) const {
    std::optional<Clock::time_point> next = accept_paused_until_;
    for (const auto& [fd, connection] : connections_) {
        if (!next || connection.deadline < *next) {
            next = connection.deadline;
        }
    }
    return next ? milliseconds_until(*next, now) : -1;
}

// Returns false when the server is stopping.
bool ProbeServer::Loop::handle_wake() {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = read(server_.wake_fd_.get(), &count, sizeof(count));
    std::optional<IpAddress> ipv4;
    std::optional<IpAddress> ipv6;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(server_.mutex_);
        if (server_.stopping_) {
            return false;
        }
        ipv4 = server_.wanted_ipv4_;
        ipv6 = server_.wanted_ipv6_;
        generation = server_.requested_;
    }
    const bool ok = apply_addresses(ipv4, ipv6);
    publish();
    {
        std::lock_guard lock(server_.mutex_);
        server_.applied_ = std::max(server_.applied_, generation);
        server_.applied_ok_ = ok;
    }
    server_.applied_cv_.notify_all();
    return true;
}

bool ProbeServer::Loop::apply_addresses(const std::optional<IpAddress>& ipv4,
                                        const std::optional<IpAddress>& ipv6) {
    // 0 when the interface does not exist (yet): binding to it then fails with ENODEV.
    const unsigned ifindex = if_nametoindex(server_.interface_name_.c_str());
    const bool v4_ok = apply_family(kIpv4, ipv4, ifindex);
    const bool v6_ok = apply_family(kIpv6, ipv6, ifindex);
    counters_.listening.clear();
    counters_.errors.clear();
    for (std::size_t family = 0; family < listeners_.size(); ++family) {
        if (listeners_[family]) {
            counters_.listening.push_back(
                endpoint_text(listeners_[family]->address, server_.port_));
        }
        if (!errors_[family].empty()) {
            counters_.errors.push_back(errors_[family]);
        }
    }
    return v4_ok && v6_ok;
}

bool ProbeServer::Loop::apply_family(Family family, const std::optional<IpAddress>& wanted,
                                     unsigned ifindex) {
    auto& current = listeners_[family];
    auto& error = errors_[family];
    if (current && wanted && current->address == *wanted && current->ifindex == ifindex &&
        ifindex != 0) {
        return true;
    }
    if (current) {
        mesh::log_info("probe server: closed " + endpoint_text(current->address, server_.port_));
        // Closing the descriptor also takes it out of the epoll set.
        current.reset();
    }
    if (!wanted) {
        error.clear();
        return true;
    }
    Listener listener{*wanted, ifindex, UniqueFd()};
    std::string failure = open_listener(listener);
    if (!failure.empty()) {
        if (failure != error) {
            mesh::log_warning("probe server: " + failure + "; tried again on the next cycle");
        }
        error = std::move(failure);
        return false;
    }
    mesh::log_info("probe server: listening on " + endpoint_text(*wanted, server_.port_) + " (" +
                   server_.interface_name_ + ")");
    error.clear();
    current = std::move(listener);
    return true;
}

// Opens, binds and watches the listener; returns why not, or "" when it listens.
std::string ProbeServer::Loop::open_listener(Listener& listener) {
    const std::string where =
        endpoint_text(listener.address, server_.port_) + " on " + server_.interface_name_;
    if (listener.ifindex == 0) {
        return "cannot listen on " + where + ": the interface does not exist";
    }
    const int af = listener.address.family_af();
    UniqueFd fd(socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        return "cannot listen on " + where + ": " + errno_text("socket", errno);
    }
    const int on = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
        return "cannot listen on " + where + ": " + errno_text("SO_REUSEADDR", errno);
    }
    if (listener.address.is_v6() &&
        setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
        return "cannot listen on " + where + ": " + errno_text("IPV6_V6ONLY", errno);
    }
    const std::string& name = server_.interface_name_;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, name.data(),
                   static_cast<socklen_t>(name.size())) != 0) {
        return "cannot listen on " + where + ": " + errno_text("SO_BINDTODEVICE", errno);
    }
    const auto local = netlink::SocketAddress{listener.address, server_.port_}.to_sockaddr();
    if (bind(fd.get(), local.get(), local.length) != 0) {
        return "cannot listen on " + where + ": " + errno_text("bind", errno);
    }
    if (listen(fd.get(), kListenBacklog) != 0) {
        return "cannot listen on " + where + ": " + errno_text("listen", errno);
    }
    watch(fd.get(), accept_paused_until_ ? 0U : std::uint32_t{EPOLLIN});
    listener.fd = std::move(fd);
    return "";
}

void ProbeServer::Loop::accept_from(Listener& listener, Clock::time_point now) {
    for (int i = 0; i < kAcceptsPerWakeup; ++i) {
        sockaddr_storage peer{};
        socklen_t length = sizeof(peer);
        UniqueFd fd(accept4(listener.fd.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                            SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            const int error = errno;
            if (error == EINTR || error == ECONNABORTED) {
                continue;
            }
            if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
                pause_accepting(now, error);
            }
            return;  // EAGAIN: the backlog is empty
        }
        const auto source = source_address(peer);
        if (!source) {
            continue;
        }
        make_room_for(*source);
        const int raw = fd.get();
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = raw;
        if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &event) != 0) {
            continue;  // out of epoll watches (fs.epoll.max_user_watches): not served
        }
        Connection connection;
        connection.fd = std::move(fd);
        connection.source = *source;
        connection.accepted_at = now;
        connection.deadline = now + server_.limits_.read_deadline;
        connections_.emplace(raw, std::move(connection));
        ++per_source_[*source];
        ++counters_.accepted;
    }
}

void ProbeServer::Loop::pause_accepting(Clock::time_point now, int error) {
    mesh::log_warning("probe server: " + errno_text("accept", error) + "; pausing accepts for " +
                      std::to_string(kAcceptPause.count()) + " ms");
    accept_paused_until_ = now + kAcceptPause;
    for (auto& listener : listeners_) {
        if (listener) {
            rewatch(listener->fd.get(), 0);
        }
    }
}

void ProbeServer::Loop::resume_accepting_if_due(Clock::time_point now) {
    if (!accept_paused_until_ || now < *accept_paused_until_) {
        return;
    }
    accept_paused_until_.reset();
    for (auto& listener : listeners_) {
        if (listener) {
            rewatch(listener->fd.get(), EPOLLIN);
        }
    }
}

void ProbeServer::Loop::make_room_for(const IpAddress& source) {
    const auto& limits = server_.limits_;
    if (const auto it = per_source_.find(source);
        it != per_source_.end() && it->second >= std::max<std::size_t>(limits.max_per_source, 1)) {
        evict_least_useful(&source);
    }
    if (connections_.size() >= std::max<std::size_t>(limits.max_connections, 1)) {
        evict_least_useful(nullptr);
    }
}

// Closes the connection (of `of_source`, or of anyone) least worth keeping: one that never
// sent a ping before one that did, then the longest without one.
void ProbeServer::Loop::evict_least_useful(const IpAddress* of_source) {
    const Connection* victim = nullptr;
    auto rank = [](const Connection& c) {
        return std::pair(c.last_ping.has_value(), c.last_ping.value_or(c.accepted_at));
    };
    for (const auto& [fd, connection] : connections_) {
        if (of_source && connection.source != *of_source) {
            continue;
        }
        if (!victim || rank(connection) < rank(*victim)) {
            victim = &connection;
        }
    }
    if (victim) {
        ++counters_.evicted;
        close_connection(victim->fd.get());
    }
}

void ProbeServer::Loop::on_connection_event(Connection& connection, std::uint32_t events,
                                            Clock::time_point now) {
    const int fd = connection.fd.get();
    if (connection.writing) {
        if (!flush(connection)) {
            close_connection(fd);
        } else if (connection.unsent.empty()) {
            connection.writing = false;
            connection.deadline = now + server_.limits_.read_deadline;
            rewatch(fd, EPOLLIN);
        }
        return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
        read_from(connection, now);
    }
}

void ProbeServer::Loop::read_from(Connection& connection, Clock::time_point now) {
    const int fd = connection.fd.get();
    std::array<char, kReadChunk> buffer{};
    const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        close_connection(fd);  // closed by the peer, or reset
        return;
    }
    std::string_view input(buffer.data(), static_cast<std::size_t>(n));
    while (const auto line = connection.reader.next_line(input)) {
        connection.deadline = now + server_.limits_.read_deadline;
        if (*line == kProbePing) {
            connection.unsent.append(kPongLine);
            connection.last_ping = now;
            ++counters_.pings_answered;
        }
    }
    if (connection.reader.too_long()) {
        ++counters_.too_long;
        close_connection(fd);
        return;
    }
    if (connection.unsent.empty()) {
        return;
    }
    if (!flush(connection)) {
        close_connection(fd);
    } else if (!connection.unsent.empty()) {
        // The peer does not read its pongs: stop reading its pings until they are written,
        // so what is held for it stays below one read's worth.
        connection.writing = true;
        connection.deadline = now + server_.limits_.write_deadline;
        rewatch(fd, EPOLLOUT);
    }
}

// Writes what the socket takes; false when the connection failed.
bool ProbeServer::Loop::flush(Connection& connection) {
    while (!connection.unsent.empty()) {
        const ssize_t n = send(connection.fd.get(), connection.unsent.data(),
                               connection.unsent.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        connection.unsent.erase(0, static_cast<std::size_t>(n));
    }
    return true;
}

void ProbeServer::Loop::close_connection(int fd) {
    const auto it = connections_.find(fd);
    if (it == connections_.end()) {
        return;
    }
    if (const auto source = per_source_.find(it->second.source); source != per_source_.end()) {
        if (--source->second == 0) {
            per_source_.erase(source);
        }
    }
    connections_.erase(it);  // closing the descriptor also takes it out of the epoll set
}

void ProbeServer::Loop::expire(Clock::time_point now) {
    std::vector<int> expired;
    for (const auto& [fd, connection] : connections_) {
        if (connection.deadline <= now) {
            expired.push_back(fd);
        }
    }
    counters_.timed_out += expired.size();
    for (const int fd : expired) {
        close_connection(fd);
    }
}

void ProbeServer::Loop::publish() {
    counters_.open = connections_.size();
    std::lock_guard lock(server_.mutex_);
    server_.counters_ = counters_;
}

ProbeServer::ProbeServer(std::string interface_name, std::uint16_t port, ProbeServerLimits limits)
    : interface_name_(std::move(interface_name)), port_(port), limits_(limits) {
    wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_fd_) {
        throw std::runtime_error(errno_text("probe server: eventfd", errno));
    }
    thread_ = std::thread([this] { run(); });
}

ProbeServer::~ProbeServer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
    thread_.join();
}

void ProbeServer::run() {
    try {
        Loop loop(*this);
        loop.run();
    } catch (const std::exception& e) {
        // Only a broken epoll set gets here; the daemon keeps running without a probe
        // server (its peers then see this node's probes fail) and says so.
        mesh::log_error(std::string("probe server stopped: ") + e.what());
    }
    {
        std::lock_guard lock(mutex_);
        thread_done_ = true;
        counters_.listening.clear();
        counters_.open = 0;
    }
    applied_cv_.notify_all();
}

bool ProbeServer::set_addresses(const std::optional<netlink::IpAddress>& ipv4,
                                const std::optional<netlink::IpAddress>& ipv6) {
    if ((ipv4 && !ipv4->is_v4()) || (ipv6 && !ipv6->is_v6())) {
        throw std::invalid_argument("probe server: mesh address of the wrong family");
    }
    std::unique_lock lock(mutex_);
    if (thread_done_) {
        return false;
    }
    wanted_ipv4_ = ipv4;
    wanted_ipv6_ = ipv6;
    const std::uint64_t generation = ++requested_;
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
    applied_cv_.wait(lock, [&] { return applied_ >= generation || thread_done_; });
    return applied_ >= generation && applied_ok_;
}

ProbeServerCounters ProbeServer::counters() const {
    std::lock_guard lock(mutex_);
    return counters_;
}

nlohmann::json ProbeServer::status_json() const {
    const ProbeServerCounters c = counters();
    return {{"port", port_},
            {"listening", c.listening},
            {"errors", c.errors},
            {"connections", c.open},
            {"accepted", c.accepted},
            {"evicted", c.evicted},
            {"timed_out", c.timed_out},
            {"too_long", c.too_long},
            {"pings_answered", c.pings_answered}};
}

}  // namespace wgmesh::cli
