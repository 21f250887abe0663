// The routes a node wants (SPEC section 9, first bullet): every network another node
// advertises, via that node's mesh address or its relay's. Pure: values in, routes out.
#pragma once

#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mesh/peer.h"
#include "netlink/ip_address.h"
#include "netlink/route.h"
#include "wg/key.h"

namespace wgmesh::mesh {

// Relay-routed peer -> the relay (an introducer) its traffic goes through.
using RelayAssignments = std::unordered_map<wg::Key, wg::Key>;
using KeySet = std::unordered_set<wg::Key>;
// Collision losers' expected addresses (CollisionResolver::expected_mesh_ips()).
using ExpectedMeshIps = std::unordered_map<wg::Key, netlink::IpAddress>;

struct RoutePlanInput {
    wg::Key local_key;
    std::span<const Peer> peers;  // the active peers of the store
    const RelayAssignments* relays = nullptr;
    const KeySet* offline = nullptr;  // temporarily offline: neither routed to nor through
    const ExpectedMeshIps* expected_mesh_ips = nullptr;
    // Networks that never get a route through a peer: the mesh's own networks (the kernel
    // reaches them through the interface address) and the networks this node advertises.
    std::vector<netlink::Prefix> excluded_networks;
};

struct RoutePlan {
    std::vector<netlink::Route> routes;  // sorted by destination, one route per destination
    std::vector<std::string> warnings;   // networks skipped, and why
};

// For each peer that is not us, has a mesh IP and is not offline: each routable network
// via the peer's mesh IP (its expected one after a lost collision), or via the relay's
// when the peer is relay-routed. IPv6 networks go via mesh IPv6 addresses; without one the
// network is skipped with a warning. When several peers advertise one network, the lowest
// base64 public key among those that can carry it wins. A relay that is unknown, offline
// or without a mesh address of the family leaves the peer routed directly (warning).
RoutePlan plan_routes(const RoutePlanInput& input);

}  // namespace wgmesh::mesh
