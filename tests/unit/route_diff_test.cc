#include "netlink/route_diff.h"

#include <gtest/gtest.h>

#include "netlink/route_table.h"

namespace wgmesh::netlink {
namespace {

Route route(const char* destination, const char* gateway) {
    return Route{Prefix::parse_or_throw(destination), IpAddress::parse_or_throw(gateway)};
}

using Routes = std::vector<Route>;

TEST(RouteDiff, EqualSetsGiveNoChangeWhateverTheOrder) {
    const Routes current = {route("10.1.0.0/16", "10.42.0.2"), route("fd01::/64", "fd42::2"),
                            route("10.2.0.0/24", "10.42.0.3")};
    const Routes desired = {current[2], current[1], current[0], current[0]};
    EXPECT_TRUE(diff_routes(desired, current).empty());
    EXPECT_TRUE(diff_routes({}, {}).empty());
}

TEST(RouteDiff, AddsMissingAndRemovesUnwanted) {
    const RouteDiff diff =
        diff_routes({route("10.1.0.0/16", "10.42.0.2"), route("10.3.0.0/24", "10.42.0.4")},
                    {route("10.1.0.0/16", "10.42.0.2"), route("10.2.0.0/24", "10.42.0.3")});
    EXPECT_EQ(diff.add, Routes{route("10.3.0.0/24", "10.42.0.4")});
    EXPECT_TRUE(diff.change.empty());
    EXPECT_EQ(diff.remove, Routes{route("10.2.0.0/24", "10.42.0.3")});
}

TEST(RouteDiff, GatewayChangeReplacesInPlaceAndRemovesTheOldKey) {
    const RouteDiff diff =
        diff_routes({route("10.1.0.0/16", "10.42.0.9")}, {route("10.1.0.0/16", "10.42.0.2")});
    EXPECT_TRUE(diff.add.empty());
    EXPECT_EQ(diff.change, Routes{route("10.1.0.0/16", "10.42.0.9")});
    EXPECT_EQ(diff.remove, Routes{route("10.1.0.0/16", "10.42.0.2")});
}

TEST(RouteDiff, Ipv6AndIpv4AreSeparateKeys) {
    const RouteDiff diff =
        diff_routes({route("fd01::/64", "fd42::2"), route("fd02::/64", "fd42::3"),
                     route("10.1.0.0/16", "10.42.0.2")},
                    {route("fd01::/64", "fd42::9"), route("fd03::/48", "fd42::3")});
    EXPECT_EQ(diff.add, (Routes{route("10.1.0.0/16", "10.42.0.2"), route("fd02::/64", "fd42::3")}));
    EXPECT_EQ(diff.change, Routes{route("fd01::/64", "fd42::2")});
    EXPECT_EQ(diff.remove, (Routes{route("fd01::/64", "fd42::9"), route("fd03::/48", "fd42::3")}));
}

TEST(RouteDiff, SameAddressDifferentLengthIsADifferentDestination) {
    const RouteDiff diff =
        diff_routes({route("10.1.0.0/24", "10.42.0.2")}, {route("10.1.0.0/16", "10.42.0.2")});
    EXPECT_EQ(diff.add, Routes{route("10.1.0.0/24", "10.42.0.2")});
    EXPECT_EQ(diff.remove, Routes{route("10.1.0.0/16", "10.42.0.2")});
}

TEST(RouteDiff, DuplicateNetworksCollapseToTheLowestGatewayInAnyOrder) {
    const Routes a = {route("10.1.0.0/16", "10.42.0.9"), route("10.1.0.0/16", "10.42.0.2"),
                      route("10.1.0.0/16", "10.42.0.9")};
    const Routes b = {a[1], a[0]};
    EXPECT_EQ(collapse_routes(a), Routes{route("10.1.0.0/16", "10.42.0.2")});
    EXPECT_EQ(collapse_routes(b), collapse_routes(a));
    // Against a kernel holding the higher gateway: a change, never two routes.
    const RouteDiff diff = diff_routes(a, {route("10.1.0.0/16", "10.42.0.9")});
    EXPECT_EQ(diff.change, Routes{route("10.1.0.0/16", "10.42.0.2")});
    EXPECT_EQ(diff.remove, Routes{route("10.1.0.0/16", "10.42.0.9")});
}

TEST(RouteDiff, CurrentWithTwoGatewaysForOneDestinationKeepsTheWantedOne) {
    const RouteDiff diff =
        diff_routes({route("10.1.0.0/16", "10.42.0.3")},
                    {route("10.1.0.0/16", "10.42.0.2"), route("10.1.0.0/16", "10.42.0.3")});
    EXPECT_TRUE(diff.add.empty());
    EXPECT_TRUE(diff.change.empty());
    EXPECT_EQ(diff.remove, Routes{route("10.1.0.0/16", "10.42.0.2")});
}

TEST(RouteDiff, EmptyDesiredRemovesEverything) {
    const Routes current = {route("0.0.0.0/0", "10.42.0.1"), route("::/0", "fd42::1")};
    const RouteDiff diff = diff_routes({}, current);
    EXPECT_EQ(diff.remove, current);
    EXPECT_TRUE(diff.add.empty());
}

TEST(RouteOwner, RefusesKernelProtocolsAndSpecialTables) {
    EXPECT_NO_THROW(validate_route_owner({"wg0", 254, 150}));
    EXPECT_NO_THROW(validate_route_owner({"wg0", 100000, 5}));
    EXPECT_THROW(validate_route_owner({"wg0", 254, 4}), std::invalid_argument);  // static
    EXPECT_THROW(validate_route_owner({"wg0", 254, 2}), std::invalid_argument);  // kernel
    EXPECT_THROW(validate_route_owner({"wg0", 0, 150}), std::invalid_argument);
    EXPECT_THROW(validate_route_owner({"wg0", 255, 150}), std::invalid_argument);
    EXPECT_THROW(validate_route_owner({"", 254, 150}), std::invalid_argument);
    EXPECT_THROW(validate_route_owner({"a/b", 254, 150}), std::invalid_argument);
    EXPECT_THROW(validate_route_owner({"sixteen-chars-xx", 254, 150}), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::netlink
