#include "tools/wgmesh/daemon/swappable_device.h"

#include <stdexcept>
#include <utility>

namespace wgmesh::cli {

SwappableDevice::SwappableDevice(std::string interface) : interface_(std::move(interface)) {}

void SwappableDevice::replace(std::unique_ptr<wg::WireGuardDevice> target) {
    if (target && target->interface_name() != interface_) {
        throw std::invalid_argument("device for " + target->interface_name() +
                                    " cannot stand in for interface " + interface_);
    }
    target_ = std::move(target);
}

wg::WireGuardDevice& SwappableDevice::target() {
    if (!target_) {
        throw std::runtime_error("interface " + interface_ + " has no open WireGuard device");
    }
    return *target_;
}

wg::DeviceConfig SwappableDevice::get() {
    return target().get();
}

void SwappableDevice::apply(const wg::DeviceConfig& desired) {
    target().apply(desired);
}

wg::DeviceUpdate SwappableDevice::apply_against(const wg::DeviceConfig& current,
                                                const wg::DeviceConfig& desired) {
    return target().apply_against(current, desired);
}

}  // namespace wgmesh::cli
