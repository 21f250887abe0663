// A mesh peer as the store, the cache, the peers file and the control socket know it.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::mesh {

enum class NatType { kUnknown, kCone, kSymmetric };

std::string_view to_string(NatType type);
// "cone", "symmetric", "unknown" (and "" as unknown); nullopt for anything else.
std::optional<NatType> parse_nat_type(std::string_view text);

using Clock = std::chrono::system_clock;

struct Peer {
    wg::Key wg_pubkey;
    std::string hostname;
    std::optional<netlink::IpAddress> mesh_ip;
    std::optional<netlink::IpAddress> mesh_ipv6;
    std::optional<netlink::SocketAddress> endpoint;
    bool introducer = false;
    std::vector<netlink::Prefix> routable_networks;  // normalised
    NatType nat_type = NatType::kUnknown;
    Clock::time_point last_seen{};
    std::set<std::string> discovered_via;  // discovery methods that reported it
    std::string endpoint_method;           // the method the current endpoint came from
    std::optional<std::chrono::milliseconds> latency;
};

}  // namespace wgmesh::mesh
