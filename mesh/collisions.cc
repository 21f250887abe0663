#include "mesh/collisions.h"

#include <algorithm>
#include <exception>
#include <numeric>

#include "mesh/nonce_file.h"

namespace wgmesh::mesh {

namespace {

// How far back a loser's current address is traced to the nonce that produced it. A node
// that lost this many collisions in a row is beyond what a /16 mesh produces.
constexpr std::uint32_t kMaxTracedNonce = 16;

std::string signature_of(const Collision& collision) {
    std::string text = collision.mesh_ip.to_string() + "|" + collision.winner.to_base64();
    for (const auto& loser : collision.losers) {
        text += '|';
        text += loser.to_base64();
    }
    return text;
}

}  // namespace

bool wins_collision(const wg::Key& a, const wg::Key& b) {
    return a < b;
}

std::vector<Collision> find_collisions(std::span<const MeshIpClaim> claims) {
    std::vector<std::size_t> order(claims.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (claims[a].mesh_ip != claims[b].mesh_ip) {
            return claims[a].mesh_ip < claims[b].mesh_ip;
        }
        return claims[a].public_key < claims[b].public_key;
    });

    std::vector<Collision> collisions;
    for (std::size_t begin = 0; begin < order.size();) {
        std::size_t end = begin + 1;
        while (end < order.size() && claims[order[end]].mesh_ip == claims[order[begin]].mesh_ip) {
            ++end;
        }
        Collision collision{claims[order[begin]].mesh_ip, claims[order[begin]].public_key, {}};
        const wg::Key* previous = &claims[order[begin]].public_key;
        for (std::size_t i = begin + 1; i < end; ++i) {
            if (!(claims[order[i]].public_key == *previous)) {
                collision.losers.push_back(claims[order[i]].public_key);
                previous = &claims[order[i]].public_key;
            }
        }
        if (!collision.losers.empty()) {
            collisions.push_back(std::move(collision));
        }
        begin = end;
    }
    return collisions;
}

std::vector<MeshIpClaim> mesh_ip_claims(std::span<const Peer> peers) {
    std::vector<MeshIpClaim> claims;
    claims.reserve(peers.size());
    for (const auto& peer : peers) {
        if (peer.mesh_ip && peer.mesh_ip->is_v4()) {
            claims.push_back({peer.wg_pubkey, *peer.mesh_ip});
        }
    }
    return claims;
}

CollisionResolver::CollisionResolver(wg::Key local_key, MeshAddressing addressing,
                                     netlink::AddressSet& addresses,
                                     std::filesystem::path nonce_path, LogFunction log)
    : local_key_(std::move(local_key)),
      addressing_(std::move(addressing)),
      addresses_(addresses),
      nonce_path_(std::move(nonce_path)),
      log_(std::move(log)),
      local_ip_(addressing_.mesh_ip(local_key_, 0)) {}

void CollisionResolver::log(const std::string& line) const {
    if (log_) {
        log_(line);
    }
}

std::uint32_t CollisionResolver::load_persisted_nonce() {
    std::lock_guard lock(mutex_);
    std::optional<PersistedNonce> stored;
    try {
        stored = read_nonce_file(nonce_path_);
    } catch (const std::exception& e) {
        log(std::string("ignoring the collision nonce: ") + e.what());
        return local_nonce_;
    }
    if (!stored || stored->nonce == 0) {
        return local_nonce_;
    }
    if (stored->public_key != local_key_) {
        log("ignoring the collision nonce in " + nonce_path_.string() + ": it belongs to key " +
            stored->public_key.to_base64() + ", not this node's");
        return local_nonce_;
    }
    const netlink::IpAddress derived = addressing_.mesh_ip(local_key_, stored->nonce);
    if (derived != stored->mesh_ip) {
        log("ignoring the collision nonce in " + nonce_path_.string() + ": nonce " +
            std::to_string(stored->nonce) + " now derives " + derived.to_string() + ", not " +
            stored->mesh_ip.to_string() + " (secret or mesh subnet changed)");
        return local_nonce_;
    }
    local_nonce_ = stored->nonce;
    local_ip_ = derived;
    log("using collision nonce " + std::to_string(local_nonce_) + " from " + nonce_path_.string() +
        ": mesh IP " + local_ip_.to_string());
    return local_nonce_;
}

std::uint32_t CollisionResolver::local_nonce() const {
    std::lock_guard lock(mutex_);
    return local_nonce_;
}

netlink::IpAddress CollisionResolver::local_mesh_ip() const {
    std::lock_guard lock(mutex_);
    return local_ip_;
}

netlink::InterfaceAddress CollisionResolver::local_address() const {
    std::lock_guard lock(mutex_);
    return addressing_.interface_address(local_ip_);
}

CollisionOutcome CollisionResolver::resolve(std::span<const Peer> peers) {
    const auto claims = mesh_ip_claims(peers);
    return resolve_claims(claims);
}

CollisionOutcome CollisionResolver::resolve_claims(std::span<const MeshIpClaim> remote_claims) {
    std::lock_guard lock(mutex_);
    std::vector<MeshIpClaim> claims;
    claims.reserve(remote_claims.size() + 1);
    for (const auto& claim : remote_claims) {
        if (claim.public_key != local_key_) {
            claims.push_back(claim);
        }
    }
    claims.push_back({local_key_, local_ip_});

    CollisionOutcome outcome;
    outcome.collisions = find_collisions(claims);
    std::unordered_map<wg::Key, netlink::IpAddress> expected;
    std::set<std::string> current;
    bool local_lost = false;
    for (const auto& collision : outcome.collisions) {
        const std::string signature = signature_of(collision);
        current.insert(signature);
        std::string losers;
        for (const auto& loser : collision.losers) {
            const bool is_local = loser == local_key_;
            losers +=
                (losers.empty() ? "" : ", ") + loser.to_base64() + (is_local ? " (this node)" : "");
            if (is_local) {
                local_lost = true;
            } else {
                expected[loser] =
                    addressing_.mesh_ip(loser, next_nonce_for(loser, collision.mesh_ip));
            }
        }
        if (!logged_.contains(signature)) {
            const bool local_won = collision.winner == local_key_;
            log("mesh IP collision on " + collision.mesh_ip.to_string() + ": " +
                collision.winner.to_base64() + (local_won ? " (this node)" : "") + " keeps it, " +
                losers + " re-derive with a nonce");
        }
    }
    logged_ = std::move(current);
    expected_ = std::move(expected);
    if (local_lost) {
        move_local_address(local_nonce_ + 1, outcome);
    }
    return outcome;
}

std::uint32_t CollisionResolver::next_nonce_for(const wg::Key& key,
                                                const netlink::IpAddress& claimed) const {
    for (std::uint32_t nonce = 0; nonce <= kMaxTracedNonce; ++nonce) {
        if (addressing_.mesh_ip(key, nonce) == claimed) {
            return nonce + 1;
        }
    }
    // An address that is not derived (static peer): the Go daemon's loser uses nonce 1.
    return 1;
}

void CollisionResolver::move_local_address(std::uint32_t nonce, CollisionOutcome& outcome) {
    const netlink::IpAddress next = addressing_.mesh_ip(local_key_, nonce);
    // Persisted first: a crash between the two steps restarts on the new address, which is
    // the one the collision asks for.
    if (!nonce_path_.empty()) {
        try {
            write_nonce_file(nonce_path_, {local_key_, nonce, next});
        } catch (const std::exception& e) {
            outcome.errors.push_back(std::string("could not persist the collision nonce: ") +
                                     e.what());
            log(outcome.errors.back());
        }
    }
    const auto previous = addressing_.interface_address(local_ip_);
    const auto replacement = addressing_.interface_address(next);
    try {
        addresses_.replace(previous, replacement);
    } catch (const std::exception& e) {
        outcome.errors.push_back("could not move the mesh address from " + previous.to_string() +
                                 " to " + replacement.to_string() + ": " + e.what());
        log(outcome.errors.back());
        return;
    }
    local_nonce_ = nonce;
    local_ip_ = next;
    outcome.local_address_changed = replacement;
    log("this node lost a mesh IP collision: address moved from " + previous.to_string() + " to " +
        replacement.to_string() + " (nonce " + std::to_string(nonce) + ")");
}

std::optional<netlink::IpAddress> CollisionResolver::expected_mesh_ip(const wg::Key& peer) const {
    std::lock_guard lock(mutex_);
    if (auto it = expected_.find(peer); it != expected_.end()) {
        return it->second;
    }
    return std::nullopt;
}

std::unordered_map<wg::Key, netlink::IpAddress> CollisionResolver::expected_mesh_ips() const {
    std::lock_guard lock(mutex_);
    return expected_;
}

}  // namespace wgmesh::mesh
