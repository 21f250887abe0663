// One WireGuard device, whatever backend drives it (kernel generic netlink or the
// userspace UAPI socket): the caller never knows which.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::wg {

struct PeerConfig {
    Key public_key;
    std::optional<Key> preshared_key;
    std::optional<netlink::SocketAddress> endpoint;
    std::vector<netlink::Prefix> allowed_ips;  // compared as a set
    std::uint16_t persistent_keepalive = 0;    // seconds, 0 = off

    // Read back from the device only; ignored when applying.
    std::int64_t last_handshake_unix = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
};

struct DeviceUpdate;  // wg/config_diff.h

struct DeviceConfig {
    std::optional<Key> private_key;
    std::optional<std::uint16_t> listen_port;
    std::uint32_t fwmark = 0;
    std::vector<PeerConfig> peers;
};

class WireGuardDevice {
  public:
    virtual ~WireGuardDevice() = default;
    virtual const std::string& interface_name() const = 0;
    virtual DeviceConfig get() = 0;
    // Makes the device match `desired`: computes the diff against get() and applies it in
    // one transaction (UAPI) or the fewest netlink messages. Peers absent from `desired` are
    // removed. An unchanged config sends nothing.
    virtual void apply(const DeviceConfig& desired) = 0;
    // apply() diffed against `current`, a get() the caller made moments ago: a reconcile cycle
    // that has read the device for its handshakes need not read it again. Returns what it
    // sent (compute_device_update(current, desired)). The default applies through apply().
    virtual DeviceUpdate apply_against(const DeviceConfig& current, const DeviceConfig& desired);
};

}  // namespace wgmesh::wg
