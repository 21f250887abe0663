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

// What the peer said about its NAT. kNotReported (the field was absent or "") and kUnknown
// (the peer said "unknown") are different facts, kept apart so that a Go daemon's cache
// reads back and writes out field for field. Only kSymmetric changes behaviour (relays).
enum class NatType { kNotReported, kUnknown, kCone, kSymmetric };

// "cone", "symmetric", "unknown", and "" for kNotReported.
std::string_view to_string(NatType type);
// "cone", "symmetric", "unknown", and "" as kNotReported; nullopt for anything else. What
// an unrecognised word means is the reader's choice: the cache reads it as kUnknown (the
// peer reported something we cannot use), the hand-written peers file rejects it (a typo).
std::optional<NatType> parse_nat_type(std::string_view text);

using Clock = std::chrono::system_clock;

struct Peer {
    wg::Key wg_pubkey;
    std::string hostname;  // valid per hostname_problem() or empty; the store enforces it
    std::optional<netlink::IpAddress> mesh_ip;
    std::optional<netlink::IpAddress> mesh_ipv6;
    std::optional<netlink::SocketAddress> endpoint;
    bool introducer = false;
    std::vector<netlink::Prefix> routable_networks;  // normalised
    NatType nat_type = NatType::kNotReported;
    Clock::time_point last_seen{};
    std::set<std::string> discovered_via;  // discovery methods that reported it
    std::string endpoint_method;           // the method the current endpoint came from
    std::optional<std::chrono::milliseconds> latency;
};

}  // namespace wgmesh::mesh
