#include "netlink/route_file.h"

#include <gtest/gtest.h>

namespace wgmesh::netlink {
namespace {

Route route(const char* destination, const char* gateway) {
    return Route{Prefix::parse_or_throw(destination), IpAddress::parse_or_throw(gateway)};
}

TEST(RouteFile, ReadsRoutesCommentsAndBlankLines) {
    const RouteFile file = parse_route_file(
        "# wanted routes\n"
        "\n"
        "10.1.0.0/16 10.42.0.2   # office\n"
        "  fd01::/64\tfd42::2\r\n"
        "default 10.42.0.1\n"
        "10.9.9.9/24 10.42.0.3\n"
        "10.1.0.0/16 10.42.0.2\n");  // an exact repeat is harmless
    ASSERT_TRUE(file.errors.empty()) << file.errors.front().message;
    EXPECT_EQ(
        file.routes,
        (std::vector<Route>{route("10.1.0.0/16", "10.42.0.2"), route("fd01::/64", "fd42::2"),
                            route("0.0.0.0/0", "10.42.0.1"), route("10.9.9.0/24", "10.42.0.3")}));
}

TEST(RouteFile, ReportsEveryBadLineWithItsNumber) {
    const RouteFile file = parse_route_file(
        "10.1.0.0/16 10.42.0.2\n"
        "10.2.0.0/16\n"
        "10.3.0.0/33 10.42.0.2\n"
        "10.4.0.0/16 not-an-ip\n"
        "# fine\n"
        "fd01::/64 10.42.0.2\n"
        "10.5.0.0/16 0.0.0.0\n"
        "10.1.0.0/16 10.42.0.7\n"
        "10.6.0.0/16 10.42.0.2 extra\n");
    ASSERT_EQ(file.errors.size(), 7u);
    const std::size_t lines[] = {2, 3, 4, 6, 7, 8, 9};
    for (std::size_t i = 0; i < 7; ++i) {
        EXPECT_EQ(file.errors[i].line, lines[i]) << file.errors[i].message;
    }
    EXPECT_NE(file.errors[1].message.find("10.3.0.0/33"), std::string::npos);
    EXPECT_NE(file.errors[5].message.find("line 1"), std::string::npos);
}

TEST(RouteFile, HostileTextIsQuotedAndCut) {
    const std::string junk(500, '\x01');
    const RouteFile file = parse_route_file(junk + " 10.42.0.2\n");
    ASSERT_EQ(file.errors.size(), 1u);
    EXPECT_LT(file.errors[0].message.size(), 120u);
    EXPECT_EQ(file.errors[0].message.find('\x01'), std::string::npos);
}

TEST(RouteFile, EmptyTextIsTheEmptySet) {
    const RouteFile file = parse_route_file("");
    EXPECT_TRUE(file.routes.empty());
    EXPECT_TRUE(file.errors.empty());
    EXPECT_TRUE(parse_route_file("\n\n# only comments\n").routes.empty());
}

}  // namespace
}  // namespace wgmesh::netlink
