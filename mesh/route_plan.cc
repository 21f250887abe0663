#include "mesh/route_plan.h"

#include <algorithm>
#include <optional>
#include <tuple>

namespace wgmesh::mesh {

namespace {

// One peer's bid to carry one network. Sorting by (network, key) puts each network's
// winner first: wg::Key's order is the base64 text order the tie-break is defined on.
struct Claim {
    netlink::Prefix network;
    const Peer* peer;
    netlink::IpAddress gateway;

    bool operator<(const Claim& other) const {
        return std::tie(network, peer->wg_pubkey) < std::tie(other.network, other.peer->wg_pubkey);
    }
};

bool contains_key(const KeySet* set, const wg::Key& key) {
    return set != nullptr && set->contains(key);
}

bool is_excluded(const netlink::Prefix& network, const std::vector<netlink::Prefix>& excluded) {
    for (const auto& prefix : excluded) {
        if (prefix.family() == network.family() && prefix.length() <= network.length() &&
            prefix.contains(network.address())) {
            return true;
        }
    }
    return false;
}

class Planner {
  public:
    explicit Planner(const RoutePlanInput& input) : input_(input) {
        for (const auto& peer : input.peers) {
            by_key_.emplace(peer.wg_pubkey, &peer);
        }
    }

    RoutePlan run() {
        std::size_t networks = 0;
        for (const auto& peer : input_.peers) {
            networks += peer.routable_networks.size();
        }
        claims_.reserve(networks);
        for (const auto& peer : input_.peers) {
            plan_peer(peer);
        }
        // One flat vector sorted once: a no-change cycle at 10k routes built a 10k-node map
        // and 10k base64 strings here before.
        std::sort(claims_.begin(), claims_.end());
        plan_.routes.reserve(claims_.size());
        for (const auto& claim : claims_) {
            if (plan_.routes.empty() || plan_.routes.back().destination != claim.network) {
                plan_.routes.push_back({claim.network, claim.gateway});
            }
        }
        return std::move(plan_);
    }

  private:
    std::optional<netlink::IpAddress> mesh_ipv4(const Peer& peer) const {
        if (input_.expected_mesh_ips != nullptr) {
            if (auto it = input_.expected_mesh_ips->find(peer.wg_pubkey);
                it != input_.expected_mesh_ips->end()) {
                return it->second;
            }
        }
        if (peer.mesh_ip && peer.mesh_ip->is_v4()) {
            return peer.mesh_ip;
        }
        return std::nullopt;
    }

    static std::optional<netlink::IpAddress> mesh_ipv6(const Peer& peer) {
        if (peer.mesh_ipv6 && peer.mesh_ipv6->is_v6()) {
            return peer.mesh_ipv6;
        }
        return std::nullopt;
    }

    std::optional<netlink::IpAddress> gateway_of(const Peer& peer, netlink::Family family) const {
        return family == netlink::Family::kIpv4 ? mesh_ipv4(peer) : mesh_ipv6(peer);
    }

    // The relay's peer entry, when the peer is relay-routed through a usable relay.
    const Peer* relay_of(const Peer& peer) {
        if (input_.relays == nullptr) {
            return nullptr;
        }
        const auto assigned = input_.relays->find(peer.wg_pubkey);
        if (assigned == input_.relays->end()) {
            return nullptr;
        }
        const auto relay = by_key_.find(assigned->second);
        if (relay == by_key_.end() || assigned->second == input_.local_key ||
            contains_key(input_.offline, assigned->second)) {
            warn("relay " + assigned->second.to_base64() + " of peer " +
                 peer.wg_pubkey.to_base64() + " is not an active peer: routing directly");
            return nullptr;
        }
        return relay->second;
    }

    void plan_peer(const Peer& peer) {
        if (peer.wg_pubkey == input_.local_key || contains_key(input_.offline, peer.wg_pubkey) ||
            !mesh_ipv4(peer)) {
            return;
        }
        const Peer* relay = relay_of(peer);
        for (const auto& network : peer.routable_networks) {
            if (is_excluded(network, input_.excluded_networks)) {
                warn("peer " + peer.wg_pubkey.to_base64() + " advertises " + network.to_string() +
                     ", which this node reaches without it: skipped");
                continue;
            }
            std::optional<netlink::IpAddress> gateway;
            if (relay != nullptr) {
                gateway = gateway_of(*relay, network.family());
                if (!gateway) {
                    warn("relay " + relay->wg_pubkey.to_base64() + " has no mesh address for " +
                         network.to_string() + ": routing it directly");
                }
            }
            if (!gateway) {
                gateway = gateway_of(peer, network.family());
            }
            if (!gateway) {
                warn("peer " + peer.wg_pubkey.to_base64() + " advertises " + network.to_string() +
                     " but has no mesh IPv6 address to route it through: skipped");
                continue;
            }
            claims_.push_back({network, &peer, *gateway});
        }
    }

    void warn(std::string text) { plan_.warnings.push_back(std::move(text)); }

    const RoutePlanInput& input_;
    std::unordered_map<wg::Key, const Peer*> by_key_;
    std::vector<Claim> claims_;
    RoutePlan plan_;
};

}  // namespace

RoutePlan plan_routes(const RoutePlanInput& input) {
    return Planner(input).run();
}

}  // namespace wgmesh::mesh
