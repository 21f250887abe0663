// The desired route set: which peers' networks are routed, through which gateway, and how
// conflicts and missing IPv6 gateways are settled.
#include "mesh/route_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace wgmesh::mesh {
namespace {

using netlink::IpAddress;
using netlink::Prefix;
using netlink::Route;

wg::Key key(std::uint8_t first) {
    std::array<std::uint8_t, 32> bytes{};
    bytes.fill(first);
    return wg::Key(bytes);
}

Peer peer(const wg::Key& k, const char* mesh_ip, std::vector<const char*> networks,
          const char* mesh_ipv6 = nullptr) {
    Peer p;
    p.wg_pubkey = k;
    if (mesh_ip != nullptr) {
        p.mesh_ip = IpAddress::parse_or_throw(mesh_ip);
    }
    if (mesh_ipv6 != nullptr) {
        p.mesh_ipv6 = IpAddress::parse_or_throw(mesh_ipv6);
    }
    for (const char* n : networks) {
        p.routable_networks.push_back(Prefix::parse_or_throw(n));
    }
    return p;
}

Route route(const char* destination, const char* gateway) {
    return {Prefix::parse_or_throw(destination), IpAddress::parse_or_throw(gateway)};
}

TEST(RoutePlan, RoutesEachNetworkViaThePeersMeshIp) {
    const wg::Key local = key(1), a = key(2), b = key(3);
    const std::vector<Peer> peers = {
        peer(local, "10.1.0.1", {"192.168.1.0/24"}),  // ourselves: never routed
        peer(a, "10.1.0.2", {"192.168.2.0/24", "default"}),
        peer(b, "10.1.0.3", {"172.20.0.0/16"}),
    };
    const RoutePlan plan = plan_routes({local, peers});
    EXPECT_EQ(plan.routes, (std::vector<Route>{route("0.0.0.0/0", "10.1.0.2"),
                                               route("172.20.0.0/16", "10.1.0.3"),
                                               route("192.168.2.0/24", "10.1.0.2")}));
    EXPECT_TRUE(plan.warnings.empty());
}

TEST(RoutePlan, SkipsOfflinePeersAndPeersWithoutMeshIp) {
    const wg::Key local = key(1), a = key(2), b = key(3);
    const std::vector<Peer> peers = {peer(a, "10.1.0.2", {"192.168.2.0/24"}),
                                     peer(b, nullptr, {"192.168.3.0/24"}, "fd00::3")};
    const KeySet offline = {a};
    RoutePlanInput input{local, peers};
    input.offline = &offline;
    EXPECT_TRUE(plan_routes(input).routes.empty());
}

TEST(RoutePlan, OfflineWinnerLeavesTheNetworkToTheNextAdvertiser) {
    // key(2) < key(3) < key(4) in base64: key(2) wins while it is online.
    const wg::Key local = key(1), winner = key(2), next = key(3), last = key(4);
    ASSERT_LT(winner.to_base64(), next.to_base64());
    ASSERT_LT(next.to_base64(), last.to_base64());
    const std::vector<Peer> peers = {peer(last, "10.1.0.4", {"10.99.0.0/24"}),
                                     peer(winner, "10.1.0.2", {"10.99.0.0/24"}),
                                     peer(next, "10.1.0.3", {"10.99.0.0/24"})};
    RoutePlanInput input{local, peers};
    EXPECT_EQ(plan_routes(input).routes, (std::vector<Route>{route("10.99.0.0/24", "10.1.0.2")}));
    const KeySet winner_offline = {winner};
    input.offline = &winner_offline;
    EXPECT_EQ(plan_routes(input).routes, (std::vector<Route>{route("10.99.0.0/24", "10.1.0.3")}));
    const KeySet both_offline = {winner, next};
    input.offline = &both_offline;
    EXPECT_EQ(plan_routes(input).routes, (std::vector<Route>{route("10.99.0.0/24", "10.1.0.4")}));
}

TEST(RoutePlan, RelayRoutedPeerUsesTheRelaysMeshIp) {
    const wg::Key local = key(1), relay = key(2), natted = key(3);
    const std::vector<Peer> peers = {
        peer(relay, "10.1.0.2", {}, "fd00::2"),
        peer(natted, "10.1.0.3", {"192.168.3.0/24", "2001:db8:3::/48"}, "fd00::3")};
    const RelayAssignments relays = {{natted, relay}};
    RoutePlanInput input{local, peers};
    input.relays = &relays;
    EXPECT_EQ(plan_routes(input).routes, (std::vector<Route>{route("192.168.3.0/24", "10.1.0.2"),
                                                             route("2001:db8:3::/48", "fd00::2")}));
}

TEST(RoutePlan, UnusableRelayFallsBackToDirectWithAWarning) {
    const wg::Key local = key(1), relay = key(2), natted = key(3), unknown = key(4);
    const std::vector<Peer> peers = {peer(relay, "10.1.0.2", {}),
                                     peer(natted, "10.1.0.3", {"192.168.3.0/24"})};
    const KeySet offline = {relay};
    RoutePlanInput input{local, peers};
    const RelayAssignments via_offline = {{natted, relay}};
    input.relays = &via_offline;
    input.offline = &offline;
    auto plan = plan_routes(input);
    EXPECT_EQ(plan.routes, (std::vector<Route>{route("192.168.3.0/24", "10.1.0.3")}));
    EXPECT_EQ(plan.warnings.size(), 1u);

    const RelayAssignments via_unknown = {{natted, unknown}};
    input.relays = &via_unknown;
    input.offline = nullptr;
    plan = plan_routes(input);
    EXPECT_EQ(plan.routes, (std::vector<Route>{route("192.168.3.0/24", "10.1.0.3")}));
    EXPECT_EQ(plan.warnings.size(), 1u);
}

TEST(RoutePlan, Ipv6NetworkWithoutIpv6GatewayIsSkippedWithAWarning) {
    const wg::Key local = key(1), a = key(2);
    const std::vector<Peer> peers = {peer(a, "10.1.0.2", {"2001:db8::/32", "192.168.2.0/24"})};
    const RoutePlan plan = plan_routes({local, peers});
    EXPECT_EQ(plan.routes, (std::vector<Route>{route("192.168.2.0/24", "10.1.0.2")}));
    ASSERT_EQ(plan.warnings.size(), 1u);
    EXPECT_NE(plan.warnings[0].find("2001:db8::/32"), std::string::npos);
}

TEST(RoutePlan, LowerPublicKeyWinsASharedNetworkWhateverTheOrder) {
    const wg::Key local = key(1);
    wg::Key a = key(0x20), b = key(0xe0);
    if (b < a) {
        std::swap(a, b);
    }
    std::vector<Peer> peers = {peer(a, "10.1.0.2", {"192.168.9.0/24"}),
                               peer(b, "10.1.0.3", {"192.168.9.0/24"})};
    const auto expected = std::vector<Route>{route("192.168.9.0/24", "10.1.0.2")};
    EXPECT_EQ(plan_routes({local, peers}).routes, expected);
    std::reverse(peers.begin(), peers.end());
    EXPECT_EQ(plan_routes({local, peers}).routes, expected);
}

TEST(RoutePlan, ExpectedMeshIpOfACollisionLoserIsTheGateway) {
    const wg::Key local = key(1), a = key(2);
    const std::vector<Peer> peers = {peer(a, "10.1.0.2", {"192.168.2.0/24"})};
    const ExpectedMeshIps expected = {{a, IpAddress::parse_or_throw("10.1.44.55")}};
    RoutePlanInput input{local, peers};
    input.expected_mesh_ips = &expected;
    EXPECT_EQ(plan_routes(input).routes,
              (std::vector<Route>{route("192.168.2.0/24", "10.1.44.55")}));
}

TEST(RoutePlan, ExcludedNetworksAreNeverRoutedThroughPeers) {
    const wg::Key local = key(1), a = key(2);
    const std::vector<Peer> peers = {
        peer(a, "10.1.0.2", {"10.1.0.0/16", "10.1.7.0/24", "10.0.0.0/8", "192.168.50.0/24"})};
    RoutePlanInput input{local, peers};
    input.excluded_networks = {Prefix::parse_or_throw("10.1.0.0/16"),
                               Prefix::parse_or_throw("192.168.50.0/24")};
    const RoutePlan plan = plan_routes(input);
    // The wider 10.0.0.0/8 is fine: the interface's own /16 is more specific.
    EXPECT_EQ(plan.routes, (std::vector<Route>{route("10.0.0.0/8", "10.1.0.2")}));
    EXPECT_EQ(plan.warnings.size(), 3u);
}

}  // namespace
}  // namespace wgmesh::mesh
