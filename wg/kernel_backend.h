// The kernel backend: a WireGuard device of the kernel module, driven over generic netlink
// (family "wireguard"). Messages are built and parsed by the pure functions of
// kernel_messages.h; this class only moves them through a NetlinkSocket.
//
// Partial application: a large update is split into several SET_DEVICE messages and each is
// its own transaction in the kernel. When one fails, the ones before it stay applied; apply()
// reports the failure and the next apply() recomputes the diff from get().
#pragma once

#include <cstdint>
#include <string>

#include "netlink/socket.h"
#include "wg/config_diff.h"
#include "wg/device.h"

namespace wgmesh::wg {

class KernelDevice : public WireGuardDevice {
  public:
    // Opens a generic-netlink socket and resolves the "wireguard" family. Throws
    // std::invalid_argument for a bad name, std::system_error (ENOENT) when the kernel has no
    // WireGuard module.
    explicit KernelDevice(std::string interface_name);

    const std::string& interface_name() const override { return name_; }
    // GET_DEVICE dump, peers coalesced across messages. Throws std::system_error with the
    // kernel's errno (ENODEV: no such interface) or std::runtime_error (malformed reply).
    DeviceConfig get() override;
    void apply(const DeviceConfig& desired) override;
    DeviceUpdate apply_against(const DeviceConfig& current, const DeviceConfig& desired) override;
    // Sends `update` in as few SET_DEVICE messages as fit; an empty update sends nothing.
    void apply_update(const DeviceUpdate& update);

    // SET_DEVICE messages sent so far.
    std::uint64_t messages_sent() const { return messages_sent_; }

  private:
    std::string name_;
    netlink::NetlinkSocket socket_;
    std::uint16_t family_id_ = 0;
    std::uint64_t messages_sent_ = 0;
};

}  // namespace wgmesh::wg
