// Peers that exist only as peers-file entries, for the suites that run one real daemon
// against many peers (fault_kernel, kernel_repair), and the kernel state they expect.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/mesh_node.h"

namespace wgmesh::test {

// Its endpoint is an unused address on the node's underlay link (add_underlay), so it never
// answers, and nothing here needs it to.
struct FakePeer {
    std::string pub;
    std::string mesh_ip;
    std::string mesh_ipv6;
    std::string endpoint;
    std::vector<std::string> networks;
};

// `count` peers with `networks_each` /27s each. Keys whose mesh IPs differ from each other
// and from `node`'s: in a /16, 150 random keys collide with a probability of about 15 %,
// and a collision (correctly) moves one peer.
std::vector<FakePeer> make_peers(const Node& node, int count, int networks_each);
// The peers file listing them.
nlohmann::json peers_json(const std::vector<FakePeer>& peers);
// "network via gateway", one entry per network.
std::multiset<std::string> expected_routes(const std::vector<FakePeer>& peers);
// The node's proto-150 routes as "network via gateway", duplicates kept; a route through
// another interface shows its device so it cannot pass for ours.
std::multiset<std::string> kernel_routes(const Node& node);
// One "  item" line each, for failure messages.
std::string dump(const std::multiset<std::string>& set);

// An iptables-nft style filter table as Docker leaves it: FORWARD drops by policy.
void add_docker_like_filter(const Node& node);
// The underlay link ul0 (192.168.70.1/24) the fake peers' endpoints live on.
void add_underlay(const Node& node);

}  // namespace wgmesh::test
