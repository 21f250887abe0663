// Control-socket requests come from any local client with access to the socket.
#include <cstdint>
#include <exception>
#include <string_view>

#include "mesh/control_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        wgmesh::mesh::parse_control_request(
            std::string_view(reinterpret_cast<const char*>(data), size));
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
