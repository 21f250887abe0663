// The difference between a WireGuard device's current configuration and the desired one, as
// the minimal set of changes both backends can send in one go (like `wg syncconf`, never
// "replace all peers": a crash halfway must not leave a device without its peers).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "netlink/ip_address.h"
#include "wg/device.h"
#include "wg/key.h"

namespace wgmesh::wg {

// Changes to one peer. Unset optionals leave the device's value alone.
struct PeerUpdate {
    Key public_key;
    bool remove = false;               // the peer goes; nothing else is sent
    std::optional<Key> preshared_key;  // an all-zero key clears it
    std::optional<netlink::SocketAddress> endpoint;
    std::optional<std::uint16_t> persistent_keepalive;  // 0 turns it off
    // True: the peer's allowed IPs become exactly `allowed_ips` (REPLACE_ALLOWEDIPS /
    // replace_allowed_ips=true). False: `allowed_ips` are added (only used for new peers).
    bool replace_allowed_ips = false;
    std::vector<netlink::Prefix> allowed_ips;

    bool operator==(const PeerUpdate&) const = default;
};

struct DeviceUpdate {
    std::optional<Key> private_key;
    std::optional<std::uint16_t> listen_port;
    std::optional<std::uint32_t> fwmark;
    // Removals first, then new and changed peers in the desired config's order.
    std::vector<PeerUpdate> peers;

    bool empty() const { return !private_key && !listen_port && !fwmark && peers.empty(); }
    bool operator==(const DeviceUpdate&) const = default;
};

// What must be sent so that `current` becomes `desired` (pure; no I/O):
//  - private key, listen port, fwmark: only when they differ; an unset desired private key or
//    listen port means "keep the device's";
//  - peers on the device but not desired are removed; new peers are added with all fields;
//  - for existing peers only the changed fields are sent: allowed IPs (compared as sets) are
//    replaced as a whole when the set differs; PSK and keepalive are set when they differ and
//    zeroed when the desired config has none; the endpoint is set when the desired one differs
//    (a desired peer without endpoint keeps the one the device learned: WireGuard has no way to
//    clear it, and roaming peers update it themselves);
//  - a desired peer with the device's own public key is skipped, as both implementations
//    ignore it.
// Throws std::invalid_argument when `desired` lists the same public key twice.
// An unchanged config gives an empty update.
DeviceUpdate compute_device_update(const DeviceConfig& current, const DeviceConfig& desired);

}  // namespace wgmesh::wg
