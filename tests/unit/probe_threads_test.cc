// The mesh probe over loopback: our client against our server and against a minimal server
// written here with plain sockets that speaks exactly the Go daemon's protocol, servers that
// never answer, answer garbage or an endless line, kept sessions and their fallbacks, and
// the server's bounds against raw connections.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mesh/peer_probe.h"
#include "netlink/ip_address.h"
#include "tests/support/mesh_node.h"
#include "tests/support/probe_sockets.h"
#include "tools/wgmesh/daemon/probe_client.h"
#include "tools/wgmesh/daemon/probe_lines.h"
#include "tools/wgmesh/daemon/probe_server.h"

namespace wgmesh::cli {
namespace {

using namespace std::chrono_literals;
using netlink::IpAddress;
using netlink::UniqueFd;
using test::closed_by_peer;
using test::connect_tcp;
using test::eventually;
using test::send_and_read_line;

// Generous: a loaded 2-core machine under TSan; a wait ends as soon as its condition holds.
constexpr auto kWait = 30s;
const IpAddress kLoopback4 = IpAddress::parse_or_throw("127.0.0.1");
const IpAddress kLoopback6 = IpAddress::parse_or_throw("::1");

wg::Key key(std::uint8_t n) {
    std::array<std::uint8_t, wg::Key::kSize> bytes{};
    bytes.fill(n);
    return wg::Key(bytes);
}

mesh::ProbeTarget target(std::uint8_t n, std::optional<IpAddress> v4,
                         std::optional<IpAddress> v6 = std::nullopt) {
    return mesh::ProbeTarget{key(n), v6, v4};
}

// What a test server sends back for each "ping" line.
enum class Reply { kPong, kSilent, kGarbage, kEndless, kPongThenClose };

// A minimal probe server with plain sockets: per listening address one scripted reply. With
// Reply::kPong it is the Go daemon's server: each line "ping" (whitespace trimmed) gets
// "pong\n", any other line is ignored.
class TestServer {
  public:
    TestServer(std::uint16_t port, std::vector<std::pair<IpAddress, Reply>> listeners) {
        stop_.reset(eventfd(0, EFD_CLOEXEC));
        for (const auto& [address, reply] : listeners) {
            UniqueFd fd(socket(address.family_af(), SOCK_STREAM | SOCK_CLOEXEC, 0));
            const int on = 1;
            setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
            if (address.is_v6()) {
                setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
            }
            sockaddr_storage storage{};
            socklen_t length = 0;
            if (address.is_v4()) {
                auto& in = reinterpret_cast<sockaddr_in&>(storage);
                in.sin_family = AF_INET;
                in.sin_port = htons(port);
                std::memcpy(&in.sin_addr, address.data(), 4);
                length = sizeof(in);
            } else {
                auto& in6 = reinterpret_cast<sockaddr_in6&>(storage);
                in6.sin6_family = AF_INET6;
                in6.sin6_port = htons(port);
                std::memcpy(&in6.sin6_addr, address.data(), 16);
                length = sizeof(in6);
            }
            if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
                listen(fd.get(), 64) != 0) {
                throw std::runtime_error("test server: " + address.to_string() + ": " +
                                         std::strerror(errno));
            }
            listeners_.push_back({std::move(fd), reply});
        }
        thread_ = std::thread([this] { serve(); });
    }
    ~TestServer() {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = write(stop_.get(), &one, sizeof(one));
        thread_.join();
    }

    int accepts() const { return accepts_; }
    int closed() const { return closed_; }

  private:
    struct Socket {
        UniqueFd fd;
        Reply reply;
        std::string pending;
    };

    void serve() {
        std::vector<Socket> connections;
        for (;;) {
            std::vector<pollfd> fds{{stop_.get(), POLLIN, 0}};
            for (const auto& l : listeners_) {
                fds.push_back({l.fd.get(), POLLIN, 0});
            }
            for (const auto& c : connections) {
                fds.push_back({c.fd.get(), POLLIN, 0});
            }
            if (poll(fds.data(), fds.size(), -1) < 0) {
                continue;
            }
            if (fds[0].revents != 0) {
                return;
            }
            for (std::size_t i = 0; i < listeners_.size(); ++i) {
                if (fds[1 + i].revents != 0) {
                    UniqueFd fd(accept4(listeners_[i].fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
                    if (fd) {
                        ++accepts_;
                        connections.push_back({std::move(fd), listeners_[i].reply, ""});
                    }
                }
            }
            const std::size_t first = 1 + listeners_.size();
            std::vector<bool> done(connections.size(), false);
            for (std::size_t i = 0; i + first < fds.size(); ++i) {
                if (fds[first + i].revents != 0) {
                    done[i] = !serve_readable(connections[i]);
                }
            }
            for (std::size_t i = done.size(); i-- > 0;) {
                if (done[i]) {
                    connections.erase(connections.begin() + static_cast<std::ptrdiff_t>(i));
                    ++closed_;
                }
            }
        }
    }

    // False when the connection is over.
    bool serve_readable(Socket& c) {
        char buffer[4096];
        const ssize_t n = recv(c.fd.get(), buffer, sizeof(buffer), 0);
        if (n <= 0) {
            return false;
        }
        c.pending.append(buffer, static_cast<std::size_t>(n));
        for (auto nl = c.pending.find('\n'); nl != std::string::npos; nl = c.pending.find('\n')) {
            const std::string line(trim_probe_line(std::string_view(c.pending).substr(0, nl)));
            c.pending.erase(0, nl + 1);
            if (line != "ping") {
                continue;
            }
            switch (c.reply) {
                case Reply::kPong:
                    send(c.fd.get(), "pong\n", 5, MSG_NOSIGNAL);
                    break;
                case Reply::kSilent:
                    break;
                case Reply::kGarbage:
                    send(c.fd.get(), "hello\n", 6, MSG_NOSIGNAL);
                    break;
                case Reply::kEndless: {
                    // A megabyte without a newline, as much as the socket takes.
                    const std::string blob(1 << 20, 'x');
                    send(c.fd.get(), blob.data(), blob.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                    break;
                }
                case Reply::kPongThenClose:
                    send(c.fd.get(), "pong\n", 5, MSG_NOSIGNAL);
                    return false;
            }
        }
        return true;
    }

    struct Listening {
        UniqueFd fd;
        Reply reply;
    };
    std::vector<Listening> listeners_;
    UniqueFd stop_;
    std::atomic<int> accepts_{0};
    std::atomic<int> closed_{0};
    std::thread thread_;
};

class ProbeTest : public ::testing::Test {
  protected:
    std::uint16_t port_ = test::free_tcp_port();
};

TEST(ProbeLineReader, SplitsTrimsAndCapsLines) {
    ProbeLineReader reader(8);
    std::string_view input = "pi";
    EXPECT_FALSE(reader.next_line(input));
    EXPECT_EQ(reader.pending_bytes(), 2u);
    input = "ng\r\n  pong \nrest";
    EXPECT_EQ(reader.next_line(input), "ping");
    EXPECT_EQ(reader.next_line(input), "pong");
    EXPECT_FALSE(reader.next_line(input));
    EXPECT_EQ(reader.pending_bytes(), 4u);
    input = "12345\n";  // "rest12345": 9 bytes, over the cap of 8
    EXPECT_FALSE(reader.next_line(input));
    EXPECT_TRUE(reader.too_long());
    input = "ping\n";
    EXPECT_FALSE(reader.next_line(input)) << "nothing is read after a line over the cap";
}

TEST(ProbeLineReader, AMegabyteWithoutNewlineHoldsAtMostTheCap) {
    ProbeLineReader reader;
    const std::string chunk(4096, 'x');
    for (int i = 0; i < 256 && !reader.too_long(); ++i) {
        std::string_view input = chunk;
        EXPECT_FALSE(reader.next_line(input));
        EXPECT_LE(reader.pending_bytes(), kMaxProbeLineBytes);
    }
    EXPECT_TRUE(reader.too_long());
    EXPECT_EQ(reader.pending_bytes(), 0u);
}

TEST_F(ProbeTest, OurClientGetsOurServersPongOnBothFamilies) {
    ProbeServer server("lo", port_);
    ASSERT_TRUE(server.set_addresses(kLoopback4, kLoopback6));
    EXPECT_EQ(server.counters().listening.size(), 2u);
    ProbeClient client("lo", port_);

    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4, kLoopback6),
                                                    target(2, kLoopback4)};
    const auto outcomes = client.probe(targets);
    ASSERT_EQ(outcomes.size(), 2u);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        EXPECT_EQ(outcomes[i].peer, targets[i].peer);
        EXPECT_TRUE(outcomes[i].answered) << outcomes[i].error;
        EXPECT_GT(outcomes[i].rtt.count(), 0);
        EXPECT_LE(outcomes[i].rtt, 2 * mesh::kProbeTimeout);
    }
    EXPECT_TRUE(eventually([&] { return server.counters().pings_answered == 2; }, kWait));

    // Kept sessions: the next round dials nothing.
    const auto again = client.probe(targets);
    EXPECT_TRUE(again[0].answered && again[1].answered);
    EXPECT_EQ(client.session_count(), 2u);
    EXPECT_TRUE(eventually([&] { return server.counters().pings_answered == 4; }, kWait));
    EXPECT_EQ(server.counters().accepted, 2u);
    const auto status = server.status_json();
    EXPECT_EQ(status["pings_answered"], 4);
    EXPECT_EQ(status["port"], port_);
}

TEST_F(ProbeTest, AMinimalGoStyleServerAnswersAndItsSessionIsKept) {
    TestServer server(port_, {{kLoopback4, Reply::kPong}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4)};
    for (int round = 0; round < 3; ++round) {
        const auto outcomes = client.probe(targets);
        ASSERT_TRUE(outcomes[0].answered) << outcomes[0].error;
        EXPECT_GT(outcomes[0].rtt.count(), 0);
    }
    EXPECT_EQ(server.accepts(), 1);
}

TEST_F(ProbeTest, IPv6DialFailingFallsBackToIPv4) {
    // Nothing listens on [::1]:port: refused, then 127.0.0.1 answers.
    TestServer server(port_, {{kLoopback4, Reply::kPong}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4, kLoopback6)};
    const auto outcomes = client.probe(targets);
    EXPECT_TRUE(outcomes[0].answered) << outcomes[0].error;
    EXPECT_EQ(server.accepts(), 1);
}

TEST_F(ProbeTest, IPv6IsTriedFirst) {
    TestServer server(port_, {{kLoopback4, Reply::kSilent}, {kLoopback6, Reply::kPong}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4, kLoopback6)};
    const auto outcomes = client.probe(targets);
    EXPECT_TRUE(outcomes[0].answered) << outcomes[0].error;
}

TEST_F(ProbeTest, NoServerAtAllFailsNamingBothDials) {
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4, kLoopback6)};
    const auto outcomes = client.probe(targets);
    EXPECT_FALSE(outcomes[0].answered);
    EXPECT_NE(outcomes[0].error.find("[::1]"), std::string::npos) << outcomes[0].error;
    EXPECT_NE(outcomes[0].error.find("127.0.0.1"), std::string::npos) << outcomes[0].error;
    EXPECT_EQ(client.session_count(), 0u);
}

TEST_F(ProbeTest, AServerThatNeverAnswersIsAFailureWithinTheTimeouts) {
    TestServer server(port_, {{kLoopback4, Reply::kSilent}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4)};
    const auto outcomes = client.probe(targets);
    EXPECT_FALSE(outcomes[0].answered);
    EXPECT_NE(outcomes[0].error.find("no pong within 1200 ms"), std::string::npos)
        << outcomes[0].error;
    EXPECT_EQ(client.session_count(), 0u) << "a failed session is closed";
    EXPECT_TRUE(eventually([&] { return server.closed() == 1; }, kWait));
}

TEST_F(ProbeTest, ASilentPeerDoesNotStopTheOthersBeingAnswered) {
    const IpAddress silent = IpAddress::parse_or_throw("127.0.0.2");
    TestServer server(port_, {{kLoopback4, Reply::kPong}, {silent, Reply::kSilent}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, silent), target(2, kLoopback4),
                                                    target(3, silent)};
    const auto outcomes = client.probe(targets);
    EXPECT_FALSE(outcomes[0].answered);
    EXPECT_TRUE(outcomes[1].answered) << outcomes[1].error;
    EXPECT_FALSE(outcomes[2].answered);
    EXPECT_EQ(outcomes[2].peer, key(3));
}

TEST_F(ProbeTest, GarbageIsAFailureAndClosesTheSession) {
    TestServer server(port_, {{kLoopback4, Reply::kGarbage}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4)};
    const auto outcomes = client.probe(targets);
    EXPECT_FALSE(outcomes[0].answered);
    EXPECT_NE(outcomes[0].error.find("answered \"hello\" instead of pong"), std::string::npos)
        << outcomes[0].error;
    EXPECT_EQ(client.session_count(), 0u);
    // The next probe dials a new session.
    client.probe(targets);
    EXPECT_EQ(server.accepts(), 2);
}

TEST_F(ProbeTest, AnEndlessLineIsAFailureNotAMemorySink) {
    TestServer server(port_, {{kLoopback4, Reply::kEndless}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4)};
    const auto outcomes = client.probe(targets);
    EXPECT_FALSE(outcomes[0].answered);
    // An unbounded reader would wait for the newline until the read timeout instead.
    EXPECT_NE(outcomes[0].error.find("line longer than 256 bytes"), std::string::npos)
        << outcomes[0].error;
    EXPECT_EQ(client.session_count(), 0u);
}

TEST_F(ProbeTest, ASessionTheServerClosedIsDialledAgainWithoutAFailure) {
    TestServer server(port_, {{kLoopback4, Reply::kPongThenClose}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4)};
    ASSERT_TRUE(client.probe(targets)[0].answered);
    ASSERT_TRUE(eventually([&] { return server.closed() == 1; }, kWait));
    const auto outcomes = client.probe(targets);
    EXPECT_TRUE(outcomes[0].answered) << outcomes[0].error;
    EXPECT_EQ(server.accepts(), 2);
}

TEST_F(ProbeTest, CloseSessionsExceptKeepsOnlyThoseAsked) {
    const IpAddress second = IpAddress::parse_or_throw("127.0.0.2");
    TestServer server(port_, {{kLoopback4, Reply::kPong}, {second, Reply::kPong}});
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {target(1, kLoopback4), target(2, second)};
    const auto first = client.probe(targets);
    ASSERT_TRUE(first[0].answered && first[1].answered);
    ASSERT_EQ(client.session_count(), 2u);

    client.close_sessions_except(mesh::KeySet{key(1)});
    EXPECT_EQ(client.session_count(), 1u);
    EXPECT_TRUE(eventually([&] { return server.closed() == 1; }, kWait));
    const auto again = client.probe(targets);
    EXPECT_TRUE(again[0].answered && again[1].answered);
    EXPECT_EQ(server.accepts(), 3) << "only the closed session is dialled again";

    client.close_sessions_except({});
    EXPECT_EQ(client.session_count(), 0u);
    EXPECT_TRUE(eventually([&] { return server.closed() == 3; }, kWait));
}

TEST_F(ProbeTest, TargetsWithoutUsableAddressesOrTwiceFail) {
    ProbeClient client("lo", port_);
    const std::vector<mesh::ProbeTarget> targets = {
        target(1, std::nullopt), target(2, kLoopback6 /* wrong family */), target(3, std::nullopt),
        target(3, std::nullopt)};
    const auto outcomes = client.probe(targets);
    ASSERT_EQ(outcomes.size(), 4u);
    EXPECT_EQ(outcomes[0].error, "no mesh address to probe");
    EXPECT_NE(outcomes[1].error.find("is not usable"), std::string::npos) << outcomes[1].error;
    EXPECT_EQ(outcomes[3].error, "probed twice in one round");
    for (const auto& outcome : outcomes) {
        EXPECT_FALSE(outcome.answered);
    }
}

TEST_F(ProbeTest, ServerAnswersPingLinesAndIgnoresOthers) {
    ProbeServer server("lo", port_);
    ASSERT_TRUE(server.set_addresses(kLoopback4, std::nullopt));
    const UniqueFd fd = connect_tcp(kLoopback4, port_);
    ASSERT_TRUE(fd);
    EXPECT_EQ(send_and_read_line(fd.get(), "hello\n  ping \r\n"), "pong");
    // A line in two segments.
    ASSERT_EQ(send(fd.get(), "pi", 2, MSG_NOSIGNAL), 2);
    EXPECT_EQ(send_and_read_line(fd.get(), "ng\n"), "pong");
    EXPECT_TRUE(eventually([&] { return server.counters().pings_answered == 2; }, kWait));
}

TEST_F(ProbeTest, ServerClosesALineOverTheCap) {
    ProbeServer server("lo", port_);
    ASSERT_TRUE(server.set_addresses(kLoopback4, std::nullopt));
    const UniqueFd fd = connect_tcp(kLoopback4, port_);
    ASSERT_TRUE(fd);
    const std::string long_line(kMaxProbeLineBytes + 1, 'p');
    ASSERT_EQ(send(fd.get(), long_line.data(), long_line.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(long_line.size()));
    EXPECT_TRUE(closed_by_peer(fd.get(), kWait));
    EXPECT_TRUE(eventually([&] { return server.counters().too_long == 1; }, kWait));
}

TEST_F(ProbeTest, ServerClosesConnectionsWithoutALineWithinTheReadDeadline) {
    ProbeServer server("lo", port_, ProbeServerLimits{.read_deadline = 300ms});
    ASSERT_TRUE(server.set_addresses(kLoopback4, std::nullopt));
    const UniqueFd idle = connect_tcp(kLoopback4, port_);
    const UniqueFd slow = connect_tcp(kLoopback4, port_);
    ASSERT_TRUE(idle && slow);
    // A slow-loris: a byte at a time, never a newline, until the server hangs up.
    bool slow_closed = false;
    for (int i = 0; i < 600 && !slow_closed; ++i) {
        slow_closed =
            send(slow.get(), "p", 1, MSG_NOSIGNAL) != 1 || closed_by_peer(slow.get(), 50ms);
    }
    EXPECT_TRUE(slow_closed);
    EXPECT_TRUE(closed_by_peer(idle.get(), kWait));
    EXPECT_TRUE(eventually([&] { return server.counters().timed_out == 2; }, kWait));
}

TEST_F(ProbeTest, ServerClosesAPeerThatDoesNotReadItsPongs) {
    ProbeServer server("lo", port_, ProbeServerLimits{.write_deadline = 300ms});
    ASSERT_TRUE(server.set_addresses(kLoopback4, std::nullopt));
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int small = 4096;
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port_);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
    std::string pings;
    for (int i = 0; i < 20000; ++i) {
        pings += "ping\n";
    }
    // Pings until the server stops taking them (its pongs back up) or hangs up.
    EXPECT_TRUE(eventually(
        [&] {
            send(fd.get(), pings.data(), pings.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            return server.counters().timed_out == 1;
        },
        kWait));
    EXPECT_EQ(server.counters().open, 0u);
}

TEST_F(ProbeTest, PerSourceCapDropsIdleConnectionsNotAPinger) {
    ProbeServer server("lo", port_, ProbeServerLimits{.max_per_source = 4});
    ASSERT_TRUE(server.set_addresses(kLoopback4, std::nullopt));
    const UniqueFd pinger = connect_tcp(kLoopback4, port_);
    ASSERT_EQ(send_and_read_line(pinger.get(), "ping\n"), "pong");
    std::vector<UniqueFd> idle;
    for (int i = 0; i < 20; ++i) {
        idle.push_back(connect_tcp(kLoopback4, port_));
        ASSERT_TRUE(idle.back());
    }
    EXPECT_TRUE(eventually([&] { return server.counters().evicted == 17; }, kWait));
    EXPECT_EQ(server.counters().open, 4u);
    EXPECT_EQ(send_and_read_line(pinger.get(), "ping\n"), "pong");
    // The newest idle ones are kept, the oldest went first.
    EXPECT_TRUE(closed_by_peer(idle.front().get(), kWait));
}

TEST_F(ProbeTest, TotalCapHoldsAcrossManySources) {
    ProbeServer server("lo", port_, ProbeServerLimits{.max_connections = 8});
    ASSERT_TRUE(server.set_addresses(kLoopback4, std::nullopt));
    const UniqueFd pinger = connect_tcp(kLoopback4, port_);
    ASSERT_EQ(send_and_read_line(pinger.get(), "ping\n"), "pong");
    std::vector<UniqueFd> idle;
    for (int i = 0; i < 30; ++i) {
        const auto source = IpAddress::v4(127, 0, 1, static_cast<std::uint8_t>(1 + i));
        idle.push_back(connect_tcp(kLoopback4, port_, source));
        ASSERT_TRUE(idle.back());
    }
    EXPECT_TRUE(eventually([&] { return server.counters().accepted == 31; }, kWait));
    EXPECT_EQ(server.counters().open, 8u);
    EXPECT_EQ(send_and_read_line(pinger.get(), "ping\n"), "pong");
}

TEST_F(ProbeTest, ListenerErrorsAreReportedAndRetried) {
    ProbeServer server("lo", port_);
    // Not on lo: the bind fails, the server stays up and says why.
    const IpAddress absent = IpAddress::parse_or_throw("192.0.2.7");
    EXPECT_FALSE(server.set_addresses(absent, kLoopback6));
    auto counters = server.counters();
    ASSERT_EQ(counters.errors.size(), 1u);
    EXPECT_NE(counters.errors[0].find("192.0.2.7"), std::string::npos) << counters.errors[0];
    EXPECT_NE(counters.errors[0].find("bind"), std::string::npos) << counters.errors[0];
    EXPECT_EQ(counters.listening.size(), 1u);

    EXPECT_TRUE(server.set_addresses(kLoopback4, kLoopback6));
    counters = server.counters();
    EXPECT_TRUE(counters.errors.empty());
    EXPECT_EQ(counters.listening.size(), 2u);

    EXPECT_THROW(server.set_addresses(kLoopback6, std::nullopt), std::invalid_argument);
}

TEST_F(ProbeTest, AMissingInterfaceIsReportedNotThrown) {
    ProbeServer server("wgmt-absent0", port_);
    EXPECT_FALSE(server.set_addresses(kLoopback4, std::nullopt));
    const auto counters = server.counters();
    ASSERT_EQ(counters.errors.size(), 1u);
    EXPECT_NE(counters.errors[0].find("does not exist"), std::string::npos) << counters.errors[0];
}

TEST_F(ProbeTest, ChangedAddressMovesTheListener) {
    ProbeServer server("lo", port_);
    const IpAddress other = IpAddress::parse_or_throw("127.0.0.3");
    ASSERT_TRUE(server.set_addresses(kLoopback4, std::nullopt));
    ASSERT_TRUE(server.set_addresses(other, std::nullopt));
    EXPECT_FALSE(connect_tcp(kLoopback4, port_)) << "the old listener is closed";
    const UniqueFd fd = connect_tcp(other, port_);
    ASSERT_TRUE(fd);
    EXPECT_EQ(send_and_read_line(fd.get(), "ping\n"), "pong");
}

}  // namespace
}  // namespace wgmesh::cli
