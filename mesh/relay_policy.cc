#include "mesh/relay_policy.h"

#include <algorithm>

namespace wgmesh::mesh {

namespace {

constexpr std::uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr std::string_view kLanMethod = "lan";
constexpr std::string_view kTransitiveMarker = "transitive";

std::uint64_t fnv1a(std::uint64_t hash, std::string_view bytes) {
    for (const char c : bytes) {
        hash ^= static_cast<std::uint8_t>(c);
        hash *= kFnvPrime;
    }
    return hash;
}

bool on_local_network(const LocalRelayView& local, const Peer& peer) {
    if (peer.discovered_via.contains(std::string(kLanMethod))) {
        return true;
    }
    if (!peer.endpoint) {
        return false;
    }
    return std::any_of(
        local.local_subnets.begin(), local.local_subnets.end(),
        [&](const netlink::Prefix& subnet) { return subnet.contains(peer.endpoint->address); });
}

bool learned_only_transitively(const Peer& peer) {
    return !peer.discovered_via.empty() &&
           std::all_of(peer.discovered_via.begin(), peer.discovered_via.end(),
                       [](const std::string& method) {
                           return method.find(kTransitiveMarker) != std::string::npos;
                       });
}

// The rules that forbid a relay switch back at once; the others wait for the hysteresis.
bool is_hard_direct(RelayReason reason) {
    return reason == RelayReason::kLocalIntroducer || reason == RelayReason::kPeerIntroducer ||
           reason == RelayReason::kLocalNetwork || reason == RelayReason::kNoCandidate;
}

}  // namespace

std::uint64_t relay_hash(std::string_view local_key_base64, std::string_view peer_key_base64) {
    std::uint64_t hash = fnv1a(kFnvOffsetBasis, local_key_base64);
    hash = fnv1a(hash, std::string_view("\0", 1));
    return fnv1a(hash, peer_key_base64);
}

std::vector<wg::Key> relay_candidates(const wg::Key& local_key, std::span<const Peer> peers,
                                      const KeySet* offline, Clock::time_point now) {
    std::vector<std::pair<std::string, wg::Key>> sorted;
    for (const auto& peer : peers) {
        if (!peer.introducer || !peer.endpoint || peer.wg_pubkey == local_key ||
            (offline != nullptr && offline->contains(peer.wg_pubkey)) ||
            now - peer.last_seen > kRelayCandidateMaxAge) {
            continue;
        }
        sorted.emplace_back(peer.wg_pubkey.to_base64(), peer.wg_pubkey);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    sorted.erase(std::unique(sorted.begin(), sorted.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 sorted.end());
    std::vector<wg::Key> keys;
    keys.reserve(sorted.size());
    for (auto& [text, key] : sorted) {
        keys.push_back(key);
    }
    return keys;
}

std::optional<wg::Key> choose_relay(const wg::Key& local_key, const wg::Key& peer_key,
                                    std::span<const wg::Key> candidates) {
    if (candidates.empty()) {
        return std::nullopt;
    }
    std::vector<std::pair<std::string, const wg::Key*>> sorted;
    sorted.reserve(candidates.size());
    for (const auto& candidate : candidates) {
        sorted.emplace_back(candidate.to_base64(), &candidate);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::uint64_t hash = relay_hash(local_key.to_base64(), peer_key.to_base64());
    return *sorted[hash % sorted.size()].second;
}

std::string_view to_string(RelayReason reason) {
    switch (reason) {
        case RelayReason::kDirect:
            return "direct";
        case RelayReason::kRecentHandshake:
            return "recent handshake";
        case RelayReason::kLocalIntroducer:
            return "this node is an introducer";
        case RelayReason::kPeerIntroducer:
            return "peer is an introducer";
        case RelayReason::kLocalNetwork:
            return "peer is on a local network";
        case RelayReason::kNoCandidate:
            return "no relay candidate";
        case RelayReason::kForced:
            return "relay forced";
        case RelayReason::kBothSymmetric:
            return "both sides behind symmetric NAT";
        case RelayReason::kTransitiveOnly:
            return "learned only transitively, no handshake yet";
    }
    return "direct";
}

RelayDecision evaluate_relay(const LocalRelayView& local, const Peer& peer,
                             std::optional<Clock::time_point> last_handshake, bool candidate_exists,
                             Clock::time_point now) {
    if (local.introducer) {
        return {false, RelayReason::kLocalIntroducer};
    }
    if (peer.introducer) {
        return {false, RelayReason::kPeerIntroducer};
    }
    if (on_local_network(local, peer)) {
        return {false, RelayReason::kLocalNetwork};
    }
    if (!candidate_exists) {
        return {false, RelayReason::kNoCandidate};
    }
    if (local.force_relay) {
        return {true, RelayReason::kForced};
    }
    // WireGuard reports "never" as the epoch.
    const bool has_handshake = last_handshake && *last_handshake != Clock::time_point{};
    if (has_handshake && now - *last_handshake <= kHandshakeStaleAfter) {
        return {false, RelayReason::kRecentHandshake};
    }
    if (local.nat_type == NatType::kSymmetric && peer.nat_type == NatType::kSymmetric) {
        return {true, RelayReason::kBothSymmetric};
    }
    if (!has_handshake && learned_only_transitively(peer)) {
        return {true, RelayReason::kTransitiveOnly};
    }
    return {false, RelayReason::kDirect};
}

RelayAssignments RelayPolicy::decide(std::span<const Peer> peers, const Handshakes& handshakes,
                                     const KeySet* offline, Clock::time_point now) {
    const std::vector<wg::Key> candidates =
        relay_candidates(local_.public_key, peers, offline, now);
    RelayAssignments assignments;
    std::unordered_map<wg::Key, unsigned> still_relayed;
    for (const auto& peer : peers) {
        // An offline peer stays on its relay: probes and handshakes reach it that way.
        if (peer.wg_pubkey == local_.public_key) {
            continue;
        }
        std::optional<Clock::time_point> handshake;
        if (auto it = handshakes.find(peer.wg_pubkey); it != handshakes.end()) {
            handshake = it->second;
        }
        const RelayDecision decision =
            evaluate_relay(local_, peer, handshake, !candidates.empty(), now);
        const auto held = relayed_.find(peer.wg_pubkey);
        bool relay = decision.relay;
        unsigned direct_cycles = 0;
        if (!relay && held != relayed_.end() && !is_hard_direct(decision.reason)) {
            direct_cycles = held->second + 1;
            relay = direct_cycles < kDirectCyclesToLeaveRelay;
        }
        if (!relay) {
            continue;
        }
        if (auto chosen = choose_relay(local_.public_key, peer.wg_pubkey, candidates)) {
            assignments.emplace(peer.wg_pubkey, *chosen);
            still_relayed.emplace(peer.wg_pubkey, direct_cycles);
        }
    }
    relayed_ = std::move(still_relayed);
    return assignments;
}

}  // namespace wgmesh::mesh
