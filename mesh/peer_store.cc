#include "mesh/peer_store.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace wgmesh::mesh {

namespace {

constexpr std::size_t kMaxMethodsPerPeer = 32;

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

bool key_bytes_less(const wg::Key& a, const wg::Key& b) {
    return std::memcmp(a.bytes().data(), b.bytes().data(), wg::Key::kSize) < 0;
}

}  // namespace

int endpoint_method_rank(std::string_view method) {
    if (method.empty()) {
        return 0;
    }
    if (method == kLanMethod) {
        return 100;
    }
    if (contains(method, "dht-rendezvous")) {
        return 90;
    }
    if (method == "dht") {
        return 70;
    }
    if (contains(method, "dht-transitive")) {
        return 40;
    }
    if (method.starts_with("gossip")) {
        return contains(method, "transitive") ? 35 : 65;
    }
    if (method == kCacheMethod) {
        return 20;
    }
    return 30;
}

bool method_refreshes_last_seen(std::string_view method) {
    return method != kCacheMethod && !contains(method, "transitive");
}

bool should_replace_endpoint(const Peer& existing, const netlink::SocketAddress& candidate,
                             std::string_view method) {
    if (!existing.endpoint) {
        return true;
    }
    const int new_rank = endpoint_method_rank(method);
    const int old_rank = endpoint_method_rank(existing.endpoint_method);
    if (new_rank != old_rank) {
        return new_rank > old_rank;
    }
    if (existing.endpoint_method == kLanMethod && method != kLanMethod) {
        return false;
    }
    // Equal rank: an IPv4 endpoint never displaces an IPv6 one.
    return !(existing.endpoint->address.is_v6() && candidate.address.is_v4());
}

bool is_valid_method(std::string_view method) {
    if (method.empty() || method.size() > kMaxMethodBytes) {
        return false;
    }
    return std::all_of(method.begin(), method.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
    });
}

std::optional<std::string> peer_rejection_reason(const Peer& peer) {
    if (peer.wg_pubkey.is_zero()) {
        return "public key is all zeros";
    }
    if (peer.mesh_ip && !peer.mesh_ip->is_v4()) {
        return "mesh_ip " + peer.mesh_ip->to_string() + " is not IPv4";
    }
    if (peer.mesh_ipv6 && !peer.mesh_ipv6->is_v6()) {
        return "mesh_ipv6 " + peer.mesh_ipv6->to_string() + " is not IPv6";
    }
    if (peer.endpoint && (peer.endpoint->port == 0 || peer.endpoint->address.is_unspecified())) {
        return "endpoint " + peer.endpoint->to_string() + " is not a usable address";
    }
    if (peer.routable_networks.size() > kMaxRoutableNetworksPerPeer) {
        return "more than " + std::to_string(kMaxRoutableNetworksPerPeer) + " routable networks";
    }
    if (peer.latency && peer.latency->count() < 0) {
        return "negative latency";
    }
    return std::nullopt;
}

PeerSubscription::PeerSubscription(std::size_t capacity)
    : capacity_(std::max<std::size_t>(1, capacity)) {}

void PeerSubscription::push(const PeerEvent& event) {
    {
        std::lock_guard lock(mutex_);
        if (events_.size() >= capacity_) {
            overflow_ = true;
            return;
        }
        events_.push_back(event);
    }
    ready_.notify_one();
}

std::optional<PeerEvent> PeerSubscription::try_pop() {
    std::lock_guard lock(mutex_);
    if (events_.empty()) {
        return std::nullopt;
    }
    PeerEvent event = events_.front();
    events_.pop_front();
    return event;
}

std::optional<PeerEvent> PeerSubscription::pop_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [this] { return !events_.empty(); })) {
        return std::nullopt;
    }
    PeerEvent event = events_.front();
    events_.pop_front();
    return event;
}

bool PeerSubscription::take_overflow() {
    std::lock_guard lock(mutex_);
    return std::exchange(overflow_, false);
}

PeerStore::PeerStore(NowFn now, std::size_t max_peers)
    : now_(now ? std::move(now) : NowFn(&Clock::now)), max_peers_(max_peers) {}

UpdateOutcome PeerStore::update(Peer peer, std::string_view method) {
    if (!is_valid_method(method)) {
        return {UpdateResult::kRejectedInvalid, "invalid discovery method name"};
    }
    if (auto reason = peer_rejection_reason(peer)) {
        return {UpdateResult::kRejectedInvalid, *reason};
    }
    std::string note;
    if (auto problem = hostname_problem(peer.hostname)) {
        note = "hostname dropped: " + *problem;
        peer.hostname.clear();
    }
    const Clock::time_point now = now_();
    std::lock_guard lock(mutex_);
    auto it = peers_.find(peer.wg_pubkey);
    if (it != peers_.end()) {
        merge_into(it->second, std::move(peer), method, now);
        notify_locked(it->first, PeerEventKind::kUpdated);
        return {UpdateResult::kUpdated, {}, std::move(note)};
    }
    if (peers_.size() >= max_peers_) {
        return {UpdateResult::kRejectedFull,
                "the store already holds its maximum of " + std::to_string(max_peers_) + " peers"};
    }
    Stored stored;
    stored.confirmed = method != kCacheMethod;
    if (method_refreshes_last_seen(method) || peer.last_seen == Clock::time_point{}) {
        peer.last_seen = now;
    } else {
        peer.last_seen = std::min(peer.last_seen, now);
    }
    peer.discovered_via = {std::string(method)};
    peer.endpoint_method = peer.endpoint ? std::string(method) : std::string();
    stored.peer = std::move(peer);
    const wg::Key key = stored.peer.wg_pubkey;
    peers_.emplace(key, std::move(stored));
    notify_locked(key, PeerEventKind::kNew);
    return {UpdateResult::kAdded, {}, std::move(note)};
}

void PeerStore::merge_into(Stored& stored, Peer&& update, std::string_view method,
                           Clock::time_point now) {
    Peer& existing = stored.peer;
    if (update.endpoint && should_replace_endpoint(existing, *update.endpoint, method)) {
        existing.endpoint = update.endpoint;
        existing.endpoint_method = std::string(method);
    }
    if (!update.hostname.empty()) {
        existing.hostname = std::move(update.hostname);
    }
    if (update.mesh_ip) {
        existing.mesh_ip = update.mesh_ip;
    }
    if (update.mesh_ipv6) {
        existing.mesh_ipv6 = update.mesh_ipv6;
    }
    if (!update.routable_networks.empty()) {
        existing.routable_networks = std::move(update.routable_networks);
    }
    if (update.introducer) {
        existing.introducer = true;
    }
    // "unknown" is a report like any other and overwrites, as in the Go daemon.
    if (update.nat_type != NatType::kNotReported) {
        existing.nat_type = update.nat_type;
    }
    if (update.latency) {
        existing.latency = update.latency;
    }
    if (method_refreshes_last_seen(method)) {
        existing.last_seen = now;
        stored.confirmed = true;
    }
    if (existing.discovered_via.size() < kMaxMethodsPerPeer) {
        existing.discovered_via.insert(std::string(method));
    }
}

void PeerStore::notify_locked(const wg::Key& key, PeerEventKind kind) {
    const PeerEvent event{key, kind};
    std::erase_if(subscribers_, [&](const std::weak_ptr<PeerSubscription>& weak) {
        auto subscription = weak.lock();
        if (!subscription) {
            return true;
        }
        subscription->push(event);
        return false;
    });
}

bool PeerStore::remove(const wg::Key& key) {
    std::lock_guard lock(mutex_);
    if (peers_.erase(key) == 0) {
        return false;
    }
    notify_locked(key, PeerEventKind::kRemoved);
    return true;
}

bool PeerStore::record_latency(const wg::Key& key, std::chrono::milliseconds latency) {
    if (latency.count() < 0) {
        return false;
    }
    std::lock_guard lock(mutex_);
    auto it = peers_.find(key);
    if (it == peers_.end()) {
        return false;
    }
    it->second.peer.latency = latency;
    return true;
}

std::optional<Peer> PeerStore::get(const wg::Key& key) const {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(key);
    if (it == peers_.end()) {
        return std::nullopt;
    }
    return it->second.peer;
}

std::optional<PeerEntry> PeerStore::entry(const wg::Key& key) const {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(key);
    if (it == peers_.end()) {
        return std::nullopt;
    }
    return PeerEntry{it->second.peer, it->second.confirmed};
}

std::size_t PeerStore::size() const {
    std::lock_guard lock(mutex_);
    return peers_.size();
}

template <typename Pick>
std::vector<PeerEntry> PeerStore::collect_locked(Pick pick) const {
    std::vector<PeerEntry> out;
    out.reserve(peers_.size());
    for (const auto& [key, stored] : peers_) {
        if (pick(stored)) {
            out.push_back(PeerEntry{stored.peer, stored.confirmed});
        }
    }
    std::sort(out.begin(), out.end(), [](const PeerEntry& a, const PeerEntry& b) {
        return key_bytes_less(a.peer.wg_pubkey, b.peer.wg_pubkey);
    });
    return out;
}

namespace {

std::vector<Peer> peers_of(std::vector<PeerEntry>&& entries) {
    std::vector<Peer> out;
    out.reserve(entries.size());
    for (auto& entry : entries) {
        out.push_back(std::move(entry.peer));
    }
    return out;
}

bool is_active(const Peer& peer, Clock::time_point now) {
    return now - peer.last_seen < kPeerActiveWindow;
}

bool is_cache_usable(const Peer& peer, Clock::time_point now) {
    return now - peer.last_seen <= kCachedPeerLifetime;
}

}  // namespace

std::vector<PeerEntry> PeerStore::all_entries() const {
    std::lock_guard lock(mutex_);
    return collect_locked([](const Stored&) { return true; });
}

std::vector<Peer> PeerStore::all() const {
    return peers_of(all_entries());
}

std::vector<Peer> PeerStore::active(Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    return peers_of(collect_locked([&](const Stored& s) { return is_active(s.peer, now); }));
}

std::vector<PeerEntry> PeerStore::usable(Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    return collect_locked([&](const Stored& s) {
        return is_active(s.peer, now) || (!s.confirmed && is_cache_usable(s.peer, now));
    });
}

std::vector<wg::Key> PeerStore::remove_stale(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    std::vector<wg::Key> removed;
    for (auto it = peers_.begin(); it != peers_.end();) {
        const Stored& s = it->second;
        const bool stale =
            s.confirmed ? now - s.peer.last_seen > kPeerStaleAfter : !is_cache_usable(s.peer, now);
        if (stale) {
            removed.push_back(it->first);
            it = peers_.erase(it);
        } else {
            ++it;
        }
    }
    std::sort(removed.begin(), removed.end(), key_bytes_less);
    for (const auto& key : removed) {
        notify_locked(key, PeerEventKind::kRemoved);
    }
    return removed;
}

std::shared_ptr<PeerSubscription> PeerStore::subscribe(std::size_t capacity) {
    auto subscription = std::make_shared<PeerSubscription>(capacity);
    std::lock_guard lock(mutex_);
    std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
    subscribers_.push_back(subscription);
    return subscription;
}

}  // namespace wgmesh::mesh
