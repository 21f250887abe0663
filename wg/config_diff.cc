#include "wg/config_diff.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

namespace wgmesh::wg {

namespace {

std::vector<netlink::Prefix> normalized_set(std::vector<netlink::Prefix> prefixes) {
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    return prefixes;
}

bool has_preshared_key(const PeerConfig& peer) {
    return peer.preshared_key && !peer.preshared_key->is_zero();
}

PeerUpdate new_peer(const PeerConfig& desired) {
    PeerUpdate update;
    update.public_key = desired.public_key;
    if (has_preshared_key(desired))
        update.preshared_key = desired.preshared_key;
    update.endpoint = desired.endpoint;
    if (desired.persistent_keepalive != 0)
        update.persistent_keepalive = desired.persistent_keepalive;
    update.allowed_ips = normalized_set(desired.allowed_ips);
    return update;
}

// Only the fields that differ; nullopt when the peer is already right.
std::optional<PeerUpdate> changed_peer(const PeerConfig& current, const PeerConfig& desired) {
    PeerUpdate update;
    update.public_key = desired.public_key;
    bool changed = false;
    if (has_preshared_key(desired) != has_preshared_key(current) ||
        (has_preshared_key(desired) && !(*desired.preshared_key == *current.preshared_key))) {
        update.preshared_key = has_preshared_key(desired) ? *desired.preshared_key : Key{};
        changed = true;
    }
    if (desired.endpoint && desired.endpoint != current.endpoint) {
        update.endpoint = desired.endpoint;
        changed = true;
    }
    if (desired.persistent_keepalive != current.persistent_keepalive) {
        update.persistent_keepalive = desired.persistent_keepalive;
        changed = true;
    }
    auto wanted_ips = normalized_set(desired.allowed_ips);
    if (wanted_ips != normalized_set(current.allowed_ips)) {
        update.replace_allowed_ips = true;
        update.allowed_ips = std::move(wanted_ips);
        changed = true;
    }
    if (!changed)
        return std::nullopt;
    return update;
}

std::optional<Key> own_public_key(const DeviceConfig& current, const DeviceConfig& desired) {
    const auto& private_key = desired.private_key ? desired.private_key : current.private_key;
    if (!private_key || private_key->is_zero())
        return std::nullopt;
    return private_key->public_key();
}

}  // namespace

DeviceUpdate compute_device_update(const DeviceConfig& current, const DeviceConfig& desired) {
    DeviceUpdate update;
    if (desired.private_key &&
        (!current.private_key || !(*desired.private_key == *current.private_key)))
        update.private_key = desired.private_key;
    if (desired.listen_port && desired.listen_port != current.listen_port)
        update.listen_port = desired.listen_port;
    if (desired.fwmark != current.fwmark)
        update.fwmark = desired.fwmark;

    std::unordered_map<Key, const PeerConfig*> wanted;
    wanted.reserve(desired.peers.size());
    for (const auto& peer : desired.peers) {
        if (!wanted.emplace(peer.public_key, &peer).second) {
            throw std::invalid_argument("desired WireGuard config lists peer " +
                                        peer.public_key.to_base64() + " twice");
        }
    }
    std::unordered_map<Key, const PeerConfig*> present;
    present.reserve(current.peers.size());
    for (const auto& peer : current.peers) {
        present.emplace(peer.public_key, &peer);
        if (!wanted.contains(peer.public_key)) {
            PeerUpdate removal;
            removal.public_key = peer.public_key;
            removal.remove = true;
            update.peers.push_back(std::move(removal));
        }
    }

    const auto self = own_public_key(current, desired);
    for (const auto& peer : desired.peers) {
        if (self && peer.public_key == *self)
            continue;
        const auto found = present.find(peer.public_key);
        if (found == present.end()) {
            update.peers.push_back(new_peer(peer));
        } else if (auto change = changed_peer(*found->second, peer)) {
            update.peers.push_back(std::move(*change));
        }
    }
    return update;
}

DeviceUpdate WireGuardDevice::apply_against(const DeviceConfig& current,
                                            const DeviceConfig& desired) {
    auto update = compute_device_update(current, desired);
    apply(desired);
    return update;
}

}  // namespace wgmesh::wg
