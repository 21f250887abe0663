// The `wgmesh routes sync --from FILE` parser on arbitrary text.
#include <cstdint>
#include <string_view>

#include "netlink/route_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto file = wgmesh::netlink::parse_route_file(
        std::string_view(reinterpret_cast<const char*>(data), size));
    for (const auto& route : file.routes) {
        if (route.gateway.family() != route.destination.family()) {
            __builtin_trap();  // the parser promised one family per route
        }
    }
    return 0;
}
