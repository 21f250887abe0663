// The daemon's view of the mesh: every known peer keyed by public key, merged from all
// discovery methods by the rules of SPEC section 4, plus peers restored from the cache
// that no live source has confirmed yet (SPEC section 5).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mesh/hostname.h"
#include "mesh/peer.h"

namespace wgmesh::mesh {

inline constexpr std::size_t kMaxPeers = 1000;
inline constexpr std::size_t kMaxRoutableNetworksPerPeer = 1024;
inline constexpr std::size_t kMaxMethodBytes = 64;
inline constexpr auto kPeerActiveWindow = std::chrono::minutes(5);
inline constexpr auto kPeerStaleAfter = std::chrono::minutes(10);
inline constexpr auto kCachedPeerLifetime = std::chrono::hours(24);
inline constexpr std::string_view kCacheMethod = "cache";
inline constexpr std::string_view kLanMethod = "lan";

// Endpoint trust: lan 100, *dht-rendezvous* 90, dht 70, *dht-transitive* 40,
// gossip-transitive 35, gossip* 65, cache 20, anything else 30 (static, control, ...).
int endpoint_method_rank(std::string_view method);
// "cache" and every "*transitive*" method report hearsay: they never refresh last_seen.
bool method_refreshes_last_seen(std::string_view method);
// Whether `candidate`, reported by `method`, replaces the endpoint `existing` holds: a
// higher rank always does, a lower rank never; at equal rank IPv6 beats IPv4 and the same
// family refreshes (endpoints roam), except that a lan endpoint yields only to lan.
bool should_replace_endpoint(const Peer& existing, const netlink::SocketAddress& candidate,
                             std::string_view method);
// 1-64 bytes of [A-Za-z0-9._:-].
bool is_valid_method(std::string_view method);
// Why `peer` cannot enter the store, or nullopt when it can: zero key, mesh_ip not IPv4,
// mesh_ipv6 not IPv6, endpoint with port 0 or an unspecified address, too many routable
// networks, negative latency. An invalid hostname never costs the peer (update() drops it).
std::optional<std::string> peer_rejection_reason(const Peer& peer);

enum class PeerEventKind { kNew, kUpdated, kRemoved };

struct PeerEvent {
    wg::Key key;
    PeerEventKind kind = PeerEventKind::kUpdated;
};

// A bounded event queue owned by one consumer. The store's writers never wait for the
// consumer: when the queue is full the event is dropped and `take_overflow()` reports it,
// after which the consumer should re-read the whole store instead of trusting the queue.
class PeerSubscription {
  public:
    explicit PeerSubscription(std::size_t capacity);
    PeerSubscription(const PeerSubscription&) = delete;
    PeerSubscription& operator=(const PeerSubscription&) = delete;

    std::optional<PeerEvent> try_pop();
    // Waits up to `timeout` for an event.
    std::optional<PeerEvent> pop_for(std::chrono::milliseconds timeout);
    // True when events were dropped since the last call; clears the flag.
    bool take_overflow();
    std::size_t capacity() const { return capacity_; }

  private:
    friend class PeerStore;
    void push(const PeerEvent& event);

    const std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<PeerEvent> events_;
    bool overflow_ = false;
};

enum class UpdateResult { kAdded, kUpdated, kRejectedInvalid, kRejectedFull };

struct UpdateOutcome {
    UpdateResult result = UpdateResult::kRejectedInvalid;
    std::string reason;  // why it was rejected; empty when accepted
    // Set when the peer was accepted without a field it came with: "hostname dropped: ...".
    // Sources check hostnames at their edge (hostname_problem()), so this is a last resort.
    std::string note;
    bool accepted() const {
        return result == UpdateResult::kAdded || result == UpdateResult::kUpdated;
    }
};

// A peer with its confirmation state: false while the peer is known only from the cache.
struct PeerEntry {
    Peer peer;
    bool confirmed = true;
};

class PeerStore {
  public:
    using NowFn = std::function<Clock::time_point()>;

    explicit PeerStore(NowFn now = &Clock::now, std::size_t max_peers = kMaxPeers);
    PeerStore(const PeerStore&) = delete;
    PeerStore& operator=(const PeerStore&) = delete;

    // Merges `peer` as reported by `method` (SPEC section 4). The peer's own
    // discovered_via and endpoint_method are ignored: the store keeps those.
    // A new peer gets last_seen = now from a refreshing method; from "cache" or a
    // transitive method it keeps its reported last_seen (clamped to now; now when unset).
    // A peer first added by "cache" stays unconfirmed until a refreshing method reports it.
    UpdateOutcome update(Peer peer, std::string_view method);
    bool remove(const wg::Key& key);
    // Sets a known peer's latency (the health probe's round trip) without an event and
    // without refreshing last_seen: it changes nothing a cycle configures, and a probe every
    // second must not wake the loop. False when the peer is unknown or `latency` negative.
    bool record_latency(const wg::Key& key, std::chrono::milliseconds latency);

    std::optional<Peer> get(const wg::Key& key) const;
    std::optional<PeerEntry> entry(const wg::Key& key) const;
    std::size_t size() const;

    // Lists are ordered by key bytes.
    std::vector<Peer> all() const;
    std::vector<PeerEntry> all_entries() const;
    // last_seen less than 5 minutes before `now`.
    std::vector<Peer> active(Clock::time_point now) const;
    std::vector<Peer> active() const { return active(now()); }
    // What to configure: the active peers plus unconfirmed cached peers whose last_seen
    // is at most 24 h old, each with its confirmation state.
    std::vector<PeerEntry> usable(Clock::time_point now) const;
    std::vector<PeerEntry> usable() const { return usable(now()); }
    // Removes confirmed peers last seen more than 10 minutes ago and unconfirmed cached
    // peers more than 24 h old; returns their keys (each also gets a kRemoved event).
    std::vector<wg::Key> remove_stale(Clock::time_point now);
    std::vector<wg::Key> remove_stale() { return remove_stale(now()); }

    // Events for every accepted add, update and removal from now on. The store keeps only
    // a weak reference: dropping the returned pointer unsubscribes.
    std::shared_ptr<PeerSubscription> subscribe(std::size_t capacity = 256);

    Clock::time_point now() const { return now_(); }
    std::size_t max_peers() const { return max_peers_; }

  private:
    struct Stored {
        Peer peer;
        bool confirmed = true;
    };

    void notify_locked(const wg::Key& key, PeerEventKind kind);
    static void merge_into(Stored& stored, Peer&& update, std::string_view method,
                           Clock::time_point now);
    template <typename Pick>
    std::vector<PeerEntry> collect_locked(Pick pick) const;

    NowFn now_;
    const std::size_t max_peers_;
    mutable std::mutex mutex_;
    std::unordered_map<wg::Key, Stored> peers_;
    std::vector<std::weak_ptr<PeerSubscription>> subscribers_;
};

}  // namespace wgmesh::mesh
