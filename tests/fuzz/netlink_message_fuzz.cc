// Kernel replies as wgmesh parses them: every netlink message in the input goes through the
// ACK/extended-ack parser and the owned-route parser of a route dump.
#include <cstdint>
#include <cstring>
#include <vector>

#include "netlink/route_table.h"
#include "netlink/socket.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The kernel hands us 4-byte aligned buffers; so does this.
    std::vector<std::uint32_t> buffer((size + 3) / 4);
    std::memcpy(buffer.data(), data, size);
    int remaining = static_cast<int>(size);
    for (auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data());
         wgmesh::netlink::message_in_bounds(message, remaining);
         message = mnl_nlmsg_next(message, &remaining)) {
        if (message->nlmsg_type == NLMSG_ERROR) {
            (void)wgmesh::netlink::parse_error_message(*message);
        }
        (void)wgmesh::netlink::parse_owned_route(*message, 254, 150, 3);
        (void)wgmesh::netlink::parse_owned_route(*message, 100000, 150, 3);
    }
    return 0;
}
