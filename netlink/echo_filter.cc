#include "netlink/echo_filter.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <system_error>
#include <vector>

namespace wgmesh::netlink {

void drop_echoes_of(int fd, std::span<const std::uint32_t> port_ids) {
    if (port_ids.empty() || port_ids.size() > kMaxFilteredPortIds) {
        int unused = 0;
        if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0 &&
            errno != ENOENT) {
            throw std::system_error(errno, std::generic_category(), "SO_DETACH_FILTER");
        }
        return;
    }
    // A = nlmsg_pid; one equality test per port id jumping to "drop"; else deliver whole.
    // Absolute loads read big-endian words, so each id is compared in network order.
    const auto count = port_ids.size();
    std::vector<sock_filter> program;
    program.reserve(count + 3);
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(nlmsghdr, nlmsg_pid)));
    for (std::size_t i = 0; i < count; ++i) {
        // From instruction 1 + i, "drop" is count + 2: skip the rest and "deliver".
        const auto to_drop = static_cast<std::uint8_t>(count - i);
        program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(port_ids[i]), to_drop, 0));
    }
    program.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffff));  // deliver
    program.push_back(BPF_STMT(BPF_RET | BPF_K, 0));           // drop
    const sock_fprog filter{static_cast<unsigned short>(program.size()), program.data()};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &filter, sizeof filter) != 0) {
        throw std::system_error(errno, std::generic_category(), "SO_ATTACH_FILTER");
    }
}

}  // namespace wgmesh::netlink
