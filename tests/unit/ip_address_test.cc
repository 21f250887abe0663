#include "netlink/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace wgmesh::netlink {
namespace {

TEST(IpAddress, ParsesBothFamiliesAndPrintsCanonically) {
    EXPECT_EQ(IpAddress::parse("10.1.2.3")->to_string(), "10.1.2.3");
    EXPECT_EQ(IpAddress::parse("2001:DB8:0:0:0:0:0:1")->to_string(), "2001:db8::1");
    EXPECT_TRUE(IpAddress::parse("::ffff:1.2.3.4")->is_v6());
}

TEST(IpAddress, RejectsMalformedText) {
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "fe80::1%eth0",
                            "x::1", "01234567890123456789012345678901234567890123456789"}) {
        EXPECT_FALSE(IpAddress::parse(bad)) << bad;
    }
}

TEST(Prefix, ClearsHostBitsAndAcceptsDefault) {
    EXPECT_EQ(Prefix::parse("10.1.2.3/8")->to_string(), "10.0.0.0/8");
    EXPECT_EQ(Prefix::parse("10.1.2.3/23")->to_string(), "10.1.2.0/23");
    EXPECT_EQ(Prefix::parse("default")->to_string(), "0.0.0.0/0");
    EXPECT_EQ(Prefix::parse("2001:db8::ff/120")->to_string(), "2001:db8::/120");
    EXPECT_EQ(Prefix::parse("192.0.2.7")->to_string(), "192.0.2.7/32");
    EXPECT_EQ(Prefix::parse("2001:db8::1")->to_string(), "2001:db8::1/128");
}

TEST(Prefix, RejectsBadLengths) {
    for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "::/129",
                            "10.0.0.0/0008", "/8"}) {
        EXPECT_FALSE(Prefix::parse(bad)) << bad;
    }
}

TEST(Prefix, Contains) {
    const Prefix net = *Prefix::parse("10.42.0.0/16");
    EXPECT_TRUE(net.contains(*IpAddress::parse("10.42.9.9")));
    EXPECT_FALSE(net.contains(*IpAddress::parse("10.43.0.1")));
    EXPECT_FALSE(net.contains(*IpAddress::parse("::1")));
}

TEST(SocketAddress, ParsesV4AndBracketedV6) {
    EXPECT_EQ(SocketAddress::parse("192.0.2.1:51820")->to_string(), "192.0.2.1:51820");
    EXPECT_EQ(SocketAddress::parse("[2001:db8::1]:443")->to_string(), "[2001:db8::1]:443");
    for (const char* bad : {"192.0.2.1", "192.0.2.1:0", "192.0.2.1:65536", "2001:db8::1:80",
                            "[192.0.2.1]:80", "host.example:80", ":80", "1.2.3.4:8a"}) {
        EXPECT_FALSE(SocketAddress::parse(bad)) << bad;
    }
}

TEST(SocketAddress, ToSockaddrIsWhatBindAndConnectTake) {
    const auto v4 = SocketAddress::parse("192.0.2.7:51820")->to_sockaddr();
    ASSERT_EQ(v4.length, sizeof(sockaddr_in));
    const auto& in = reinterpret_cast<const sockaddr_in&>(v4.storage);
    EXPECT_EQ(in.sin_family, AF_INET);
    EXPECT_EQ(ntohs(in.sin_port), 51820);
    EXPECT_EQ(ntohl(in.sin_addr.s_addr), 0xc0000207u);

    const auto v6 = SocketAddress::parse("[2001:db8::9]:443")->to_sockaddr();
    ASSERT_EQ(v6.length, sizeof(sockaddr_in6));
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(v6.storage);
    EXPECT_EQ(in6.sin6_family, AF_INET6);
    EXPECT_EQ(ntohs(in6.sin6_port), 443);
    EXPECT_EQ(IpAddress::v6(in6.sin6_addr).to_string(), "2001:db8::9");
    EXPECT_EQ(in6.sin6_scope_id, 0u);
    EXPECT_EQ(v6.get(), reinterpret_cast<const sockaddr*>(&v6.storage));
}

}  // namespace
}  // namespace wgmesh::netlink
