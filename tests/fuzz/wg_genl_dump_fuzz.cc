// GET_DEVICE dump replies as read from a generic-netlink socket: the parser must reject any
// truncation or malformed attribute without reading outside the buffer.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <system_error>

#include "wg/kernel_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The recorded seeds use family id 0x1b.
    constexpr std::uint16_t kFamily = 0x1b;
    try {
        const auto config = wgmesh::wg::parse_get_device_messages(std::span(data, size), kFamily);
        // Whatever parsed must be sendable back.
        wgmesh::wg::build_set_device_messages(
            "wg0", kFamily, wgmesh::wg::compute_device_update(wgmesh::wg::DeviceConfig{}, config));
    } catch (const std::runtime_error&) {
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
