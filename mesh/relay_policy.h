// Which peers are reached through a relay, and through which one (SPEC section 8). The
// rules are the Go daemon's; the state is only the hysteresis that keeps a peer on its relay
// until the direct path has looked good for several cycles in a row.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mesh/peer.h"
#include "mesh/route_plan.h"
#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::mesh {

// An introducer counts as a relay candidate when seen within this long.
inline constexpr std::chrono::seconds kRelayCandidateMaxAge{90};
// A handshake older than this no longer proves the direct path.
inline constexpr std::chrono::seconds kHandshakeStaleAfter{150};
// Consecutive cycles in which a relayed peer must qualify for direct before it goes back.
inline constexpr unsigned kDirectCyclesToLeaveRelay = 3;

// Latest WireGuard handshake per peer; absent (or the epoch) means none yet.
using Handshakes = std::unordered_map<wg::Key, Clock::time_point>;

// FNV-1a 64 over the base64 texts: local ‖ 0x00 ‖ peer, as the Go daemon hashes them.
std::uint64_t relay_hash(std::string_view local_key_base64, std::string_view peer_key_base64);

// Introducers other than us, not offline, with an endpoint, seen within 90 s of `now`,
// sorted by base64 public key.
std::vector<wg::Key> relay_candidates(const wg::Key& local_key, std::span<const Peer> peers,
                                      const KeySet* offline, Clock::time_point now);

// candidates[relay_hash(local, peer) % size] over the base64-sorted candidates; nullopt
// when there are none.
std::optional<wg::Key> choose_relay(const wg::Key& local_key, const wg::Key& peer_key,
                                    std::span<const wg::Key> candidates);

enum class RelayReason {
    kDirect,           // nothing asks for a relay
    kRecentHandshake,  // a handshake within 150 s proves the direct path
    kLocalIntroducer,  // never: we are an introducer
    kPeerIntroducer,   // never: the peer is an introducer
    kLocalNetwork,     // never: found on the LAN or its endpoint is on a local subnet
    kNoCandidate,      // never: no relay to use
    kForced,           // --force-relay
    kBothSymmetric,    // both sides behind symmetric NAT, no recent handshake
    kTransitiveOnly,   // learned only transitively, no handshake yet
};

std::string_view to_string(RelayReason reason);

struct RelayDecision {
    bool relay = false;
    RelayReason reason = RelayReason::kDirect;
};

// The node's own view, fixed for a cycle.
struct LocalRelayView {
    wg::Key public_key;
    bool introducer = false;
    bool force_relay = false;
    NatType nat_type = NatType::kUnknown;
    std::vector<netlink::Prefix> local_subnets;  // subnets of this host's other interfaces
};

// The rules for one peer, without hysteresis, in this order: we or the peer an introducer,
// the peer on the LAN (discovered via "lan") or on a local subnet, no candidate -> direct;
// --force-relay -> relay; a handshake newer than 150 s -> direct; both sides symmetric NAT
// (whether the handshake is stale or missing) -> relay; every discovery method
// "*transitive*" and no handshake yet -> relay; otherwise direct.
RelayDecision evaluate_relay(const LocalRelayView& local, const Peer& peer,
                             std::optional<Clock::time_point> last_handshake, bool candidate_exists,
                             Clock::time_point now);

// One reconcile cycle's decisions for every peer, with the hysteresis: a relay-routed peer
// goes back to direct only in the kDirectCyclesToLeaveRelay-th consecutive cycle in which
// the rules say direct, unless a "never" rule holds (that switches at once). Not
// thread-safe: one instance belongs to the reconcile loop.
class RelayPolicy {
  public:
    explicit RelayPolicy(LocalRelayView local) : local_(std::move(local)) {}

    void set_local_nat_type(NatType type) { local_.nat_type = type; }
    void set_local_subnets(std::vector<netlink::Prefix> subnets) {
        local_.local_subnets = std::move(subnets);
    }

    // `peers` are the active peers; offline ones are never relays, but are relay-routed like
    // any other peer (the health probe reaches them the way their traffic would). Returns
    // peer -> relay for every relay-routed peer.
    RelayAssignments decide(std::span<const Peer> peers, const Handshakes& handshakes,
                            const KeySet* offline, Clock::time_point now);

    // Whether the peer is currently held on a relay (for status output and tests).
    bool is_relayed(const wg::Key& peer) const { return relayed_.contains(peer); }

  private:
    LocalRelayView local_;
    // Relay-routed peers -> consecutive cycles in which the rules said direct.
    std::unordered_map<wg::Key, unsigned> relayed_;
};

}  // namespace wgmesh::mesh
