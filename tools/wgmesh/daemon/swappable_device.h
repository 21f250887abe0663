// The daemon's WireGuard device as the Reconciler sees it: a fixed object that forwards to
// whichever backend device currently drives the interface. The Reconciler holds a reference
// for its whole life, while the interface behind it may be recreated (wireguard-go killed,
// the link deleted); the daemon then swaps in the newly opened device here.
#pragma once

#include <memory>
#include <string>

#include "wg/config_diff.h"
#include "wg/device.h"

namespace wgmesh::cli {

class SwappableDevice : public wg::WireGuardDevice {
  public:
    explicit SwappableDevice(std::string interface);

    // Makes `target` the device every later call goes to; the previous one is closed.
    void replace(std::unique_ptr<wg::WireGuardDevice> target);
    bool has_target() const { return target_ != nullptr; }

    const std::string& interface_name() const override { return interface_; }
    // Forwarded; throw std::runtime_error naming the interface while there is no target.
    wg::DeviceConfig get() override;
    void apply(const wg::DeviceConfig& desired) override;
    wg::DeviceUpdate apply_against(const wg::DeviceConfig& current,
                                   const wg::DeviceConfig& desired) override;

  private:
    wg::WireGuardDevice& target();

    // The daemon's loop thread is the only caller of every method (the Reconciler's cycle
    // and the interface check both run there), so no lock.
    std::string interface_;
    std::unique_ptr<wg::WireGuardDevice> target_;
};

}  // namespace wgmesh::cli
