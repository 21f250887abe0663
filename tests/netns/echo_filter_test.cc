// The echo filter in a private namespace: our own 5000-route write sends nothing to a
// filtered notification socket (no ENOBUFS on a small buffer), a foreign change still
// arrives, and without the filter the same write overflows the same buffer.
#include "netlink/echo_filter.h"

#include <gtest/gtest.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "netlink/route_table.h"
#include "netlink/socket.h"
#include "netlink/unique_fd.h"
#include "tests/support/netns.h"

namespace wgmesh::netlink {
namespace {

using test::TestNamespace;

constexpr int kSmallBuffer = 64 * 1024;
constexpr int kRoutes = 5000;

// A notification socket on the IPv4 route group with a small receive buffer, in the
// calling thread's namespace.
UniqueFd route_monitor() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
    EXPECT_TRUE(fd);
    const int bytes = kSmallBuffer;
    EXPECT_EQ(setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes), 0);
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = RTMGRP_IPV4_ROUTE;
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    return fd;
}

struct Drained {
    std::size_t messages = 0;
    std::size_t from_others = 0;  // nlmsg_pid not one of our sockets'
    bool overrun = false;
};

Drained drain(int fd) {
    Drained drained;
    std::vector<char> buffer(64 * 1024);
    for (;;) {
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n < 0) {
            if (errno == ENOBUFS) {
                drained.overrun = true;
                continue;
            }
            EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
            return drained;
        }
        int remaining = static_cast<int>(n);
        for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data());
             message_in_bounds(message, remaining); message = NLMSG_NEXT(message, remaining)) {
            ++drained.messages;
            drained.from_others += is_own_port_id(message->nlmsg_pid) ? 0 : 1;
        }
    }
}

class EchoFilterTest : public ::testing::Test {
  protected:
    void SetUp() override {
        WGMESH_REQUIRE_NETNS();
        ns_ = std::make_unique<TestNamespace>("ef");
        ns_->exec_checked({"ip", "link", "add", "w0", "type", "veth", "peer", "name", "w0p"});
        ns_->exec_checked({"ip", "link", "set", "w0", "up"});
        ns_->exec_checked({"ip", "link", "set", "w0p", "up"});
        ns_->exec_checked({"ip", "addr", "add", "192.168.70.1/24", "dev", "w0"});
    }

    static std::vector<Route> routes() {
        std::vector<Route> wanted;
        for (int i = 0; i < kRoutes; ++i) {
            wanted.push_back({Prefix::parse_or_throw("10." + std::to_string(i / 256) + "." +
                                                     std::to_string(i % 256) + ".0/24"),
                              IpAddress::parse_or_throw("192.168.70.2")});
        }
        return wanted;
    }

    std::unique_ptr<TestNamespace> ns_;
};

TEST_F(EchoFilterTest, OurOwnWritesNeverReachAFilteredMonitorButOthersDo) {
    auto scope = ns_->enter();
    KernelRouteTable table("w0", 254, 150);
    const auto monitor = route_monitor();
    const auto own = open_port_ids();
    ASSERT_FALSE(own.port_ids.empty());
    drop_echoes_of(monitor.get(), own.port_ids);

    ASSERT_EQ(table.sync(routes()).added, static_cast<std::size_t>(kRoutes));
    const auto after_ours = drain(monitor.get());
    EXPECT_FALSE(after_ours.overrun) << "our own echoes filled the buffer";
    EXPECT_EQ(after_ours.messages, 0u);

    ns_->exec_checked({"ip", "route", "del", "10.0.7.0/24"});
    const auto after_foreign = drain(monitor.get());
    EXPECT_FALSE(after_foreign.overrun);
    EXPECT_EQ(after_foreign.messages, 1u);
    EXPECT_EQ(after_foreign.from_others, 1u);

    // Without the filter the same write (5000 routes back) overflows the same buffer.
    drop_echoes_of(monitor.get(), {});
    ASSERT_EQ(table.flush().removed, static_cast<std::size_t>(kRoutes - 1));
    drain(monitor.get());
    ASSERT_EQ(table.sync(routes()).added, static_cast<std::size_t>(kRoutes));
    EXPECT_TRUE(drain(monitor.get()).overrun);
}

TEST_F(EchoFilterTest, TooManyPortIdsMeanNoFilterRatherThanAWrongOne) {
    auto scope = ns_->enter();
    const auto monitor = route_monitor();
    std::vector<std::uint32_t> many(kMaxFilteredPortIds + 1);
    for (std::size_t i = 0; i < many.size(); ++i) {
        many[i] = static_cast<std::uint32_t>(i + 1);
    }
    drop_echoes_of(monitor.get(), many);
    ns_->exec_checked({"ip", "route", "add", "10.9.9.0/24", "via", "192.168.70.2"});
    EXPECT_EQ(drain(monitor.get()).messages, 1u);
}

}  // namespace
}  // namespace wgmesh::netlink
