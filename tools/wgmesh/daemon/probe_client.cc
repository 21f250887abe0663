#include "tools/wgmesh/daemon/probe_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "mesh/terminal_text.h"
#include "tools/wgmesh/daemon/probe_lines.h"

namespace wgmesh::cli {

namespace {

using Clock = std::chrono::steady_clock;
using netlink::IpAddress;
using netlink::UniqueFd;

constexpr std::string_view kPingLine = "ping\n";
constexpr std::size_t kReadChunk = 512;
// How much of an unexpected reply an error message quotes.
constexpr std::size_t kQuotedReplyBytes = 64;

enum class Stage { kConnecting, kWriting, kReading, kDone };

// RFC 8305's Connection Attempt Delay: the next address is dialled alongside the first when
// that has not connected by then.
constexpr auto kFallbackDelay = std::chrono::milliseconds(250);

// Whether a kept session can carry another ping: nothing arrived on it since the last pong.
// A server that closed it (idle deadline, restart) left an EOF or a reset; a server that sent
// something unasked left bytes that would be read as the next answer.
bool session_is_quiet(int fd) {
    char byte = 0;
    const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int milliseconds_until(Clock::time_point deadline, Clock::time_point now) {
    if (deadline <= now) {
        return 0;
    }
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count());
}

}  // namespace

// One probe() call: every target's attempt advanced by one poll loop.
class ProbeClient::Round {
  public:
    Round(ProbeClient& client, std::span<const mesh::ProbeTarget> targets);
    std::vector<mesh::ProbeOutcome> run();

  private:
    struct Dial {
        UniqueFd fd;
        IpAddress remote;
        Clock::time_point deadline;
    };
    struct Attempt {
        std::vector<IpAddress> addresses;  // to dial, in order
        std::size_t next_address = 0;
        Stage stage = Stage::kDone;
        std::vector<Dial> dials;         // in flight while connecting
        Clock::time_point next_dial_at;  // when the next address joins them
        UniqueFd fd;
        IpAddress remote;
        Clock::time_point deadline;
        Clock::time_point sent_at;
        std::size_t written = 0;
        ProbeLineReader reader;
        std::string dial_errors;
    };

    void start(std::size_t i, Clock::time_point now);
    void dial_next(std::size_t i, Clock::time_point now);
    void connected(std::size_t i, UniqueFd fd, const IpAddress& remote, Clock::time_point now);
    void on_dial_ready(std::size_t i, int fd, short revents, Clock::time_point now);
    void on_dial_deadlines(std::size_t i, Clock::time_point now);
    // The earliest moment the attempt must be looked at again without an event.
    Clock::time_point wake_at(const Attempt& attempt) const;
    void start_writing(std::size_t i, Clock::time_point now);
    void on_ready(std::size_t i, Clock::time_point now);
    void on_deadline(std::size_t i, Clock::time_point now);
    void write_ping(std::size_t i, Clock::time_point now);
    void read_reply(std::size_t i, Clock::time_point now);
    void fail(std::size_t i, const std::string& why);
    void note_dial_error(Attempt& attempt, const IpAddress& address, const std::string& why);
    std::string endpoint(const IpAddress& address) const;

    ProbeClient& client_;
    std::span<const mesh::ProbeTarget> targets_;
    std::vector<Attempt> attempts_;
    std::vector<mesh::ProbeOutcome> outcomes_;
};

ProbeClient::Round::Round(ProbeClient& client, std::span<const mesh::ProbeTarget> targets)
    : client_(client), targets_(targets), attempts_(targets.size()), outcomes_(targets.size()) {
    for (std::size_t i = 0; i < targets.size(); ++i) {
        outcomes_[i].peer = targets[i].peer;
    }
}

std::string ProbeClient::Round::endpoint(const IpAddress& address) const {
    return netlink::SocketAddress{address, client_.port_}.to_string();
}

void ProbeClient::Round::note_dial_error(Attempt& attempt, const IpAddress& address,
                                         const std::string& why) {
    if (!attempt.dial_errors.empty()) {
        attempt.dial_errors += "; ";
    }
    attempt.dial_errors += "dial " + endpoint(address) + ": " + why;
}

void ProbeClient::Round::fail(std::size_t i, const std::string& why) {
    attempts_[i].dials.clear();
    attempts_[i].fd.reset();
    attempts_[i].stage = Stage::kDone;
    outcomes_[i].answered = false;
    outcomes_[i].error = why;
}

void ProbeClient::Round::start(std::size_t i, Clock::time_point now) {
    const mesh::ProbeTarget& target = targets_[i];
    Attempt& attempt = attempts_[i];
    // IPv6 first, as the Go client dials.
    if (target.mesh_ipv6) {
        if (target.mesh_ipv6->is_v6() && !target.mesh_ipv6->is_unspecified()) {
            attempt.addresses.push_back(*target.mesh_ipv6);
        } else {
            attempt.dial_errors = "mesh IPv6 " + target.mesh_ipv6->to_string() + " is not usable";
        }
    }
    if (target.mesh_ipv4) {
        if (target.mesh_ipv4->is_v4() && !target.mesh_ipv4->is_unspecified()) {
            attempt.addresses.push_back(*target.mesh_ipv4);
        } else {
            attempt.dial_errors += attempt.dial_errors.empty() ? "" : "; ";
            attempt.dial_errors += "mesh IPv4 " + target.mesh_ipv4->to_string() + " is not usable";
        }
    }
    if (auto kept = client_.sessions_.find(target.peer); kept != client_.sessions_.end()) {
        Session session = std::move(kept->second);
        client_.sessions_.erase(kept);
        if (session_is_quiet(session.fd.get())) {
            attempt.fd = std::move(session.fd);
            attempt.remote = session.remote;
            start_writing(i, now);
            return;
        }
        // Closed or out of step: dial afresh rather than spend a failure on it.
    }
    dial_next(i, now);
}

void ProbeClient::Round::dial_next(std::size_t i, Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    while (attempt.next_address < attempt.addresses.size()) {
        const IpAddress address = attempt.addresses[attempt.next_address++];
        UniqueFd fd(socket(address.family_af(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) {
            note_dial_error(attempt, address, std::string("socket: ") + std::strerror(errno));
            continue;
        }
        const std::string& name = client_.interface_name_;
        if (setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, name.data(),
                       static_cast<socklen_t>(name.size())) != 0) {
            note_dial_error(attempt, address,
                            "bind to " + name + ": " + std::string(std::strerror(errno)));
            continue;
        }
        // One small line per probe: sent at once, never held back for coalescing.
        const int on = 1;
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        const auto target = netlink::SocketAddress{address, client_.port_}.to_sockaddr();
        if (connect(fd.get(), target.get(), target.length) == 0) {
            connected(i, std::move(fd), address, now);
            return;
        }
        if (errno == EINPROGRESS) {
            attempt.dials.push_back({std::move(fd), address, now + client_.timeout_});
            attempt.stage = Stage::kConnecting;
            attempt.next_dial_at = now + kFallbackDelay;
            return;
        }
        note_dial_error(attempt, address, std::strerror(errno));
    }
    if (attempt.dials.empty()) {
        fail(i, attempt.dial_errors.empty() ? "no mesh address to probe" : attempt.dial_errors);
    }
}

void ProbeClient::Round::connected(std::size_t i, UniqueFd fd, const IpAddress& remote,
                                   Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    attempt.dials.clear();  // the slower dial, if any, is abandoned
    attempt.fd = std::move(fd);
    attempt.remote = remote;
    start_writing(i, now);
}

void ProbeClient::Round::on_dial_ready(std::size_t i, int fd, short revents,
                                       Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    const auto dial = std::find_if(attempt.dials.begin(), attempt.dials.end(),
                                   [fd](const Dial& d) { return d.fd.get() == fd; });
    if (attempt.stage != Stage::kConnecting || dial == attempt.dials.end()) {
        return;  // another dial of this attempt won in the same poll
    }
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        error = errno;
    }
    if (error == 0 && (revents & POLLOUT) != 0) {
        UniqueFd winner = std::move(dial->fd);
        const IpAddress remote = dial->remote;
        connected(i, std::move(winner), remote, now);
        return;
    }
    note_dial_error(attempt, dial->remote, error != 0 ? std::strerror(error) : "connection failed");
    attempt.dials.erase(dial);
    // Refused or unreachable: the next address at once, not after the delay.
    dial_next(i, now);
}

void ProbeClient::Round::on_dial_deadlines(std::size_t i, Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    const std::string waited = std::to_string(client_.timeout_.count()) + " ms";
    std::erase_if(attempt.dials, [&](const Dial& dial) {
        if (dial.deadline > now) {
            return false;
        }
        note_dial_error(attempt, dial.remote, "no answer within " + waited);
        return true;
    });
    if (attempt.dials.empty() || now >= attempt.next_dial_at) {
        dial_next(i, now);
    }
}

Clock::time_point ProbeClient::Round::wake_at(const Attempt& attempt) const {
    if (attempt.stage != Stage::kConnecting) {
        return attempt.deadline;
    }
    auto at = Clock::time_point::max();
    for (const Dial& dial : attempt.dials) {
        at = std::min(at, dial.deadline);
    }
    if (attempt.next_address < attempt.addresses.size()) {
        at = std::min(at, attempt.next_dial_at);
    }
    return at;
}

void ProbeClient::Round::start_writing(std::size_t i, Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    attempt.stage = Stage::kWriting;
    attempt.written = 0;
    attempt.deadline = now + client_.timeout_;
    write_ping(i, now);
}

void ProbeClient::Round::write_ping(std::size_t i, Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    if (attempt.written == 0) {
        attempt.sent_at = Clock::now();
    }
    const std::string_view rest = kPingLine.substr(attempt.written);
    const ssize_t n = send(attempt.fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;  // polled for POLLOUT until the deadline
        }
        fail(i, endpoint(attempt.remote) + ": write: " + std::strerror(errno));
        return;
    }
    attempt.written += static_cast<std::size_t>(n);
    if (attempt.written == kPingLine.size()) {
        attempt.stage = Stage::kReading;
        attempt.deadline = now + client_.timeout_;
    }
}

void ProbeClient::Round::read_reply(std::size_t i, Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    std::array<char, kReadChunk> buffer{};
    const ssize_t n = recv(attempt.fd.get(), buffer.data(), buffer.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n < 0) {
        fail(i, endpoint(attempt.remote) + ": read: " + std::strerror(errno));
        return;
    }
    if (n == 0) {
        fail(i, endpoint(attempt.remote) + ": closed the connection without a pong");
        return;
    }
    std::string_view input(buffer.data(), static_cast<std::size_t>(n));
    const auto line = attempt.reader.next_line(input);
    if (attempt.reader.too_long()) {
        fail(i, endpoint(attempt.remote) + ": answered a line longer than " +
                    std::to_string(kMaxProbeLineBytes) + " bytes");
        return;
    }
    if (!line) {
        return;  // the line goes on in the next segment
    }
    if (*line != kProbePong) {
        fail(i, endpoint(attempt.remote) + ": answered \"" +
                    mesh::terminal_safe(*line, kQuotedReplyBytes) + "\" instead of pong");
        return;
    }
    mesh::ProbeOutcome& outcome = outcomes_[i];
    outcome.answered = true;
    outcome.error.clear();
    // At least 1 µs: an answer always took some time, and 0 reads as "none".
    outcome.rtt =
        std::max(std::chrono::microseconds(1),
                 std::chrono::duration_cast<std::chrono::microseconds>(now - attempt.sent_at));
    attempt.stage = Stage::kDone;
    if (input.empty()) {
        client_.sessions_[targets_[i].peer] = Session{std::move(attempt.fd), attempt.remote};
    } else {
        attempt.fd.reset();  // more than one answer to one ping: out of step, not kept
    }
}

void ProbeClient::Round::on_ready(std::size_t i, Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    switch (attempt.stage) {
        case Stage::kConnecting:
            return;  // dials are handled by on_dial_ready()
        case Stage::kWriting:
            write_ping(i, now);
            return;
        case Stage::kReading:
            read_reply(i, now);
            return;
        case Stage::kDone:
            return;
    }
}

void ProbeClient::Round::on_deadline(std::size_t i, Clock::time_point now) {
    Attempt& attempt = attempts_[i];
    const std::string waited = std::to_string(client_.timeout_.count()) + " ms";
    switch (attempt.stage) {
        case Stage::kConnecting:
            on_dial_deadlines(i, now);
            return;
        case Stage::kWriting:
            fail(i, endpoint(attempt.remote) + ": could not write the ping within " + waited);
            return;
        case Stage::kReading:
            fail(i, endpoint(attempt.remote) + ": no pong within " + waited);
            return;
        case Stage::kDone:
            return;
    }
}

std::vector<mesh::ProbeOutcome> ProbeClient::Round::run() {
    std::unordered_set<wg::Key> seen;
    const auto started = Clock::now();
    for (std::size_t i = 0; i < targets_.size(); ++i) {
        if (!seen.insert(targets_[i].peer).second) {
            fail(i, "probed twice in one round");
            continue;
        }
        start(i, started);
    }
    std::vector<pollfd> polled;
    std::vector<std::size_t> polled_attempt;
    std::vector<std::size_t> active;
    for (;;) {
        polled.clear();
        polled_attempt.clear();
        active.clear();
        std::optional<Clock::time_point> next_deadline;
        for (std::size_t i = 0; i < attempts_.size(); ++i) {
            const Attempt& attempt = attempts_[i];
            if (attempt.stage == Stage::kDone) {
                continue;
            }
            active.push_back(i);
            if (attempt.stage == Stage::kConnecting) {
                for (const Dial& dial : attempt.dials) {
                    polled.push_back(pollfd{dial.fd.get(), POLLOUT, 0});
                    polled_attempt.push_back(i);
                }
            } else {
                const short events = attempt.stage == Stage::kReading ? POLLIN : POLLOUT;
                polled.push_back(pollfd{attempt.fd.get(), events, 0});
                polled_attempt.push_back(i);
            }
            const auto at = wake_at(attempt);
            if (!next_deadline || at < *next_deadline) {
                next_deadline = at;
            }
        }
        if (active.empty()) {
            break;
        }
        const int ready =
            poll(polled.data(), polled.size(), milliseconds_until(*next_deadline, Clock::now()));
        if (ready < 0 && errno != EINTR) {
            const std::string why = std::string("poll: ") + std::strerror(errno);
            for (const std::size_t i : active) {
                attempts_[i].dials.clear();
                fail(i, why);
            }
            break;
        }
        const auto now = Clock::now();
        for (std::size_t k = 0; ready > 0 && k < polled.size(); ++k) {
            if (polled[k].revents == 0) {
                continue;
            }
            const std::size_t i = polled_attempt[k];
            if (attempts_[i].stage == Stage::kConnecting) {
                on_dial_ready(i, polled[k].fd, polled[k].revents, now);
            } else if (attempts_[i].fd.get() == polled[k].fd) {
                on_ready(i, now);
            }
        }
        for (const std::size_t i : active) {
            if (attempts_[i].stage != Stage::kDone && wake_at(attempts_[i]) <= now) {
                on_deadline(i, now);
            }
        }
    }
    return std::move(outcomes_);
}

ProbeClient::ProbeClient(std::string interface_name, std::uint16_t port,
                         std::chrono::milliseconds timeout)
    : interface_name_(std::move(interface_name)), port_(port), timeout_(timeout) {}

std::vector<mesh::ProbeOutcome> ProbeClient::probe(std::span<const mesh::ProbeTarget> targets) {
    std::lock_guard lock(mutex_);
    return Round(*this, targets).run();
}

void ProbeClient::close_sessions_except(const mesh::KeySet& keep) {
    std::lock_guard lock(mutex_);
    std::erase_if(sessions_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

std::size_t ProbeClient::session_count() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

}  // namespace wgmesh::cli
