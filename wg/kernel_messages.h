// The generic-netlink messages of the kernel WireGuard module (family "wireguard", version 1,
// <linux/wireguard.h>), built and parsed as pure functions over bytes so that the layouts are
// checked against golden bytes and the parser is fuzzed on machines without the module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "wg/config_diff.h"
#include "wg/device.h"

namespace wgmesh::wg {

// wireguard-tools builds SET_DEVICE into min(page size, 8 KiB); the kernel accepts any size
// its socket buffer takes, but 8 KiB keeps every message well inside it.
inline constexpr std::size_t kSetDeviceMessageSize = 8192;

using NetlinkMessage = std::vector<std::uint8_t>;

// The WG_CMD_GET_DEVICE dump request (NLM_F_REQUEST|NLM_F_ACK|NLM_F_DUMP) for `ifname`.
// nlmsg_seq and nlmsg_pid are 0: the socket fills them in.
NetlinkMessage build_get_device_request(std::string_view ifname, std::uint16_t family_id);

// WG_CMD_SET_DEVICE requests (NLM_F_REQUEST|NLM_F_ACK) carrying `update`, each at most
// `max_message_size` bytes, to be sent in order (each is its own transaction in the kernel).
// When a message is full its open nests are closed and the next one resumes at the same peer
// and allowed IP: device attributes go only in the first message, a peer's PSK, endpoint,
// keepalive and REPLACE_ALLOWEDIPS only in that peer's first fragment, so later fragments add
// to the allowed IPs the first one replaced. WGDEVICE_F_REPLACE_PEERS is never used; removed
// peers carry WGPEER_F_REMOVE_ME. An empty update gives no message. Throws
// std::invalid_argument for a bad interface name or a size too small for one peer.
std::vector<NetlinkMessage> build_set_device_messages(
    std::string_view ifname, std::uint16_t family_id, const DeviceUpdate& update,
    std::size_t max_message_size = kSetDeviceMessageSize);

// Accumulates the replies of a GET_DEVICE dump. A peer whose public key equals the previous
// peer's (possibly in the previous message) is the same peer continued: its allowed IPs are
// appended, as the kernel splits long allowed-IP lists across messages.
class GetDeviceDumpParser {
  public:
    explicit GetDeviceDumpParser(std::uint16_t family_id) : family_id_(family_id) {}
    // One whole reply message (nlmsghdr included) of type `family_id`. Throws
    // std::runtime_error naming what is malformed: truncated headers or attributes, wrong
    // attribute sizes, peers without a public key, allowed IPs without family, address or a
    // valid mask, a peer repeated non-adjacently. Unknown attributes are ignored (newer
    // kernels may add some).
    void add_message(std::span<const std::uint8_t> message);
    // The device seen so far; the parser is left empty.
    DeviceConfig finish();

  private:
    std::uint16_t family_id_;
    DeviceConfig device_;
    std::unordered_set<Key> finished_peers_;  // every peer but the last, for duplicate checks
};

// Parses a recorded dump: concatenated reply messages as read from the socket, optionally
// ending with NLMSG_DONE. NLMSG_ERROR (or a DONE carrying an error) throws
// std::system_error with the kernel's errno; malformed input throws std::runtime_error.
DeviceConfig parse_get_device_messages(std::span<const std::uint8_t> stream,
                                       std::uint16_t family_id);

}  // namespace wgmesh::wg
