// parse_owned_route on crafted RTM_NEWROUTE messages: only our protocol, table and
// interface are accepted.
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include <vector>

#include "netlink/route_table.h"

namespace wgmesh::netlink {
namespace {

struct Fields {
    std::uint8_t family = AF_INET;
    std::uint8_t dst_len = 24;
    std::uint8_t table = 254;
    std::uint8_t protocol = 150;
    std::uint8_t type = RTN_UNICAST;
    std::optional<std::uint32_t> table_attribute;
    std::uint32_t oif = 3;
    bool multipath = false;
    bool gateway = true;
};

std::vector<std::uint8_t> message(const Fields& f) {
    std::vector<std::uint8_t> buffer(512, 0);
    nlmsghdr* m = mnl_nlmsg_put_header(buffer.data());
    m->nlmsg_type = RTM_NEWROUTE;
    auto* r = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(m, sizeof(rtmsg)));
    r->rtm_family = f.family;
    r->rtm_dst_len = f.dst_len;
    r->rtm_table = f.table;
    r->rtm_protocol = f.protocol;
    r->rtm_type = f.type;
    const std::uint8_t v4_dst[4] = {10, 1, 2, 0}, v4_gw[4] = {192, 168, 60, 2};
    std::uint8_t v6_dst[16] = {0xfd, 0x01}, v6_gw[16] = {0xfd, 0x60};
    v6_gw[15] = 2;
    const bool v4 = f.family == AF_INET;
    mnl_attr_put(m, RTA_DST, v4 ? 4 : 16, v4 ? static_cast<const void*>(v4_dst) : v6_dst);
    if (f.gateway) {
        mnl_attr_put(m, RTA_GATEWAY, v4 ? 4 : 16, v4 ? static_cast<const void*>(v4_gw) : v6_gw);
    }
    mnl_attr_put_u32(m, RTA_OIF, f.oif);
    if (f.table_attribute) {
        mnl_attr_put_u32(m, RTA_TABLE, *f.table_attribute);
    }
    if (f.multipath) {
        mnl_attr_put(m, RTA_MULTIPATH, 0, nullptr);
    }
    buffer.resize(m->nlmsg_len);
    return buffer;
}

std::optional<Route> parse(const Fields& f, std::uint32_t table = 254) {
    const auto bytes = message(f);
    return parse_owned_route(*reinterpret_cast<const nlmsghdr*>(bytes.data()), table, 150, 3);
}

TEST(ParseOwnedRoute, AcceptsOursInBothFamilies) {
    const auto v4 = parse({});
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->to_string(), "10.1.2.0/24 via 192.168.60.2");
    Fields f6;
    f6.family = AF_INET6;
    f6.dst_len = 64;
    const auto v6 = parse(f6);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->to_string(), "fd01::/64 via fd60::2");
    Fields device_route;
    device_route.gateway = false;
    ASSERT_TRUE(parse(device_route));
    EXPECT_TRUE(parse(device_route)->gateway.is_unspecified());
}

TEST(ParseOwnedRoute, RejectsForeignOnes) {
    Fields f;
    f.protocol = RTPROT_STATIC;
    EXPECT_FALSE(parse(f));
    f = {};
    f.oif = 4;
    EXPECT_FALSE(parse(f));
    f = {};
    f.table = 7;
    EXPECT_FALSE(parse(f));
    f = {};
    f.type = RTN_BLACKHOLE;
    EXPECT_FALSE(parse(f));
    f = {};
    f.multipath = true;
    EXPECT_FALSE(parse(f));
    f = {};
    f.dst_len = 33;
    EXPECT_FALSE(parse(f));
    f = {};
    f.family = AF_BRIDGE;
    EXPECT_FALSE(parse(f));
}

TEST(ParseOwnedRoute, LargeTableIdsComeFromTheAttribute) {
    Fields f;
    f.table = RT_TABLE_COMPAT;
    f.table_attribute = 100000;
    EXPECT_TRUE(parse(f, 100000));
    EXPECT_FALSE(parse(f, 254));
    f.table = 254;
    f.table_attribute = 7;  // the attribute wins over rtm_table
    EXPECT_FALSE(parse(f, 254));
}

}  // namespace
}  // namespace wgmesh::netlink
