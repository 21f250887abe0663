// Dandelion++ announcement routing (SPEC section 7): per-epoch relay selection by HMAC
// ranking, and the stem/fluff decision for each announcement we originate or relay.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/peer.h"

namespace wgmesh::mesh {

inline constexpr std::uint8_t kMaxStemHops = 4;
inline constexpr unsigned kFluffPercent = 10;
inline constexpr std::size_t kRelaysPerEpoch = 2;
inline constexpr std::size_t kMaxAnnounceBytes = 64 * 1024;

using EpochSeed = std::array<std::uint8_t, 32>;

// HMAC-SHA256(epoch_seed, BE64(epoch_id) ‖ base64 text of the public key). The key enters
// as its 44-character base64 text, as in every other derivation (SPEC section 3) and as
// the Go daemon handles keys.
std::array<std::uint8_t, 32> relay_rank(const EpochSeed& seed, std::uint64_t epoch_id,
                                        const wg::Key& key);

// The `count` peers with the smallest relay_rank (byte order), smallest first; `self`
// and duplicate keys are skipped. Deterministic: no RNG, independent of input order.
std::vector<Peer> select_relays(const EpochSeed& seed, std::uint64_t epoch_id,
                                std::span<const Peer> peers, const wg::Key& self,
                                std::size_t count = kRelaysPerEpoch);

struct Announce {
    wg::Key origin_pubkey;
    netlink::IpAddress origin_mesh_ip;
    std::optional<netlink::SocketAddress> origin_endpoint;  // "" on the wire when unknown
    std::vector<netlink::Prefix> routable_networks;
    std::uint8_t hop_count = 0;
    std::int64_t timestamp = 0;  // unix seconds
    std::array<std::uint8_t, 16> nonce{};

    bool operator==(const Announce&) const = default;
};

// A fresh announcement of ourselves: hop 0, timestamp now, 16 CSPRNG nonce bytes.
// Throws std::runtime_error when the CSPRNG fails.
Announce make_announce(const wg::Key& origin, const netlink::IpAddress& mesh_ip,
                       std::optional<netlink::SocketAddress> endpoint,
                       std::vector<netlink::Prefix> routable_networks);

// JSON as the Go daemon sends it: origin_pubkey, origin_mesh_ip, origin_endpoint,
// routable_networks (omitted when empty), hop_count, timestamp, nonce (base64).
std::string serialize_announce(const Announce& announce);
// Strict: at most 64 KiB, the fields above with their exact types, a valid key and IP,
// endpoint "" or ip:port, CIDRs, hop_count 0-255, a non-negative timestamp, a nonce of
// exactly 16 bytes. Unknown fields are ignored. nullopt on anything else, never throws.
std::optional<Announce> parse_announce(std::string_view text);

struct Epoch {
    std::uint64_t id = 0;
    std::vector<Peer> relays;
    Clock::time_point started_at{};
};

enum class AnnounceAction { kFluff, kStem };

struct AnnounceDecision {
    AnnounceAction action = AnnounceAction::kFluff;
    Announce announce;          // with the hop count already advanced
    std::optional<Peer> relay;  // for kStem
};

// Thread-safe. The fluff coin defaults to the CSPRNG (getrandom(2), 10 %, fluff
// when the CSPRNG fails); tests inject their own, which route() may call from several
// threads at once.
class DandelionRouter {
  public:
    using FluffCoin = std::function<bool()>;

    explicit DandelionRouter(const EpochSeed& seed, wg::Key self = {}, FluffCoin coin = {});

    // Starts epoch id+1 with relays chosen from `active_peers`.
    void rotate(std::span<const Peer> active_peers, Clock::time_point now = Clock::now());
    Epoch epoch() const;

    // Hop count capped at 4 (incremented below it); fluff at hop >= 4 or on the coin,
    // else stem to relays[hop % n], or fluff when this epoch has no relays.
    AnnounceDecision route(Announce announce) const;

  private:
    const EpochSeed seed_;
    const wg::Key self_;
    FluffCoin coin_;
    mutable std::mutex mutex_;
    Epoch epoch_;
};

// The CSPRNG coin: true with probability 10 %, unbiased (rejection sampling); true when
// getrandom fails, since fluffing early only costs privacy, never delivery.
bool csprng_fluff_coin();

}  // namespace wgmesh::mesh
