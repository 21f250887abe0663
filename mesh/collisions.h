// Mesh IP collisions (SPEC section 6): two keys that derived one mesh IP. The lower base64
// public key keeps it; every other key re-derives with a nonce. Detection is pure; the
// resolver applies the outcome for the local node and remembers it for remote ones.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mesh/mesh_address.h"
#include "mesh/peer.h"
#include "netlink/address_set.h"
#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::mesh {

// One node's claim on a mesh IP.
struct MeshIpClaim {
    wg::Key public_key;
    netlink::IpAddress mesh_ip;
};

// One mesh IP held by more than one key.
struct Collision {
    netlink::IpAddress mesh_ip;
    wg::Key winner;               // the lowest base64 public key
    std::vector<wg::Key> losers;  // the others, in base64 order
};

// True when `a` keeps the address against `b`: byte comparison of the base64 texts (which is
// not the order of the raw key bytes).
bool wins_collision(const wg::Key& a, const wg::Key& b);

// Pure, O(n log n): every mesh IP claimed by more than one distinct key, ordered by address.
// Repeated claims of one key (e.g. the local node also present in the store) are not
// collisions. This is what the "collision scan of 1000 peers" benchmark measures.
std::vector<Collision> find_collisions(std::span<const MeshIpClaim> claims);

// The IPv4 mesh IP claims of a store snapshot (peers without one are left out).
std::vector<MeshIpClaim> mesh_ip_claims(std::span<const Peer> peers);

// What one resolve() cycle found and did.
struct CollisionOutcome {
    std::vector<Collision> collisions;
    // Set when the local node lost and its interface address was replaced in this cycle.
    std::optional<netlink::InterfaceAddress> local_address_changed;
    // Persisting or address replacement failures (the replacement is retried next cycle).
    std::vector<std::string> errors;
};

// Applies collision outcomes for one node. Thread-safe; resolve() is meant for the
// reconcile thread, the getters for anyone (routes, WireGuard AllowedIPs, status).
class CollisionResolver {
  public:
    // Receives one human-readable line per event; may be empty. Must not call back into
    // the resolver.
    using LogFunction = std::function<void(std::string_view)>;

    // The local node starts on its plain derivation (nonce 0) until load_persisted_nonce().
    CollisionResolver(wg::Key local_key, MeshAddressing addressing, netlink::AddressSet& addresses,
                      std::filesystem::path nonce_path, LogFunction log);

    // Adopts the nonce stored at nonce_path when it was chosen for this key and still
    // derives the stored address (same secret and subnet); a missing file means nonce 0, a
    // foreign, stale or corrupt one is ignored with one log line. Returns the nonce in use.
    // Call before the interface address is first set.
    std::uint32_t load_persisted_nonce();

    std::uint32_t local_nonce() const;
    netlink::IpAddress local_mesh_ip() const;
    // local_mesh_ip() with the mesh network's prefix length: what the interface carries.
    netlink::InterfaceAddress local_address() const;

    // One cycle over a store snapshot; entries with the local key are ignored (the resolver
    // knows the local address itself). A local loser moves to the next nonce: its address is
    // replaced through the AddressSet (new before old) and the nonce persisted, once. A
    // remote loser gets an expected address until it reports a non-colliding one itself.
    // Each collision is logged once, when it first appears.
    CollisionOutcome resolve(std::span<const Peer> peers);
    CollisionOutcome resolve_claims(std::span<const MeshIpClaim> remote_claims);

    // The address a remote collision loser is expected to move to.
    std::optional<netlink::IpAddress> expected_mesh_ip(const wg::Key& peer) const;
    std::unordered_map<wg::Key, netlink::IpAddress> expected_mesh_ips() const;

  private:
    // The nonce a losing node moves to: one past the nonce that produced `claimed`.
    std::uint32_t next_nonce_for(const wg::Key& key, const netlink::IpAddress& claimed) const;
    void move_local_address(std::uint32_t nonce, CollisionOutcome& outcome);
    void log(const std::string& line) const;

    const wg::Key local_key_;
    const MeshAddressing addressing_;
    netlink::AddressSet& addresses_;
    const std::filesystem::path nonce_path_;
    const LogFunction log_;

    mutable std::mutex mutex_;
    std::uint32_t local_nonce_ = 0;
    netlink::IpAddress local_ip_;
    std::unordered_map<wg::Key, netlink::IpAddress> expected_;
    std::set<std::string> logged_;  // collisions already logged, by signature
};

}  // namespace wgmesh::mesh
