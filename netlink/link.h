// Network interfaces (links) over rtnetlink: lookup by name, state, MTU, creation and
// deletion. Names are validated here (non-empty, shorter than IFNAMSIZ, no '/' or space),
// so nothing malformed reaches the kernel.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "netlink/socket.h"

namespace wgmesh::netlink {

struct LinkInfo {
    int index = 0;
    std::string name;
    unsigned mtu = 0;
    bool up = false;   // administratively up (IFF_UP)
    std::string kind;  // IFLA_INFO_KIND ("veth", "wireguard", "dummy"); empty for physical
};

// The link called `name`, or nullopt when there is none. Throws std::system_error on any
// other kernel error.
std::optional<LinkInfo> find_link(NetlinkSocket& socket, std::string_view name);
bool link_exists(NetlinkSocket& socket, std::string_view name);
// Throws std::system_error(ENODEV) "interface 'NAME' does not exist".
int link_index(NetlinkSocket& socket, std::string_view name);

void set_link_up(NetlinkSocket& socket, std::string_view name, bool up);
void set_link_mtu(NetlinkSocket& socket, std::string_view name, unsigned mtu);

// Creates a link of `kind` ("wireguard", "dummy", ...). Throws std::system_error with the
// kernel's text; EEXIST when the name is taken, EOPNOTSUPP when the kind is not available
// (e.g. no wireguard module).
void create_link(NetlinkSocket& socket, std::string_view name, std::string_view kind);
// A veth pair `name` <-> `peer_name`, both in this namespace.
void create_veth_pair(NetlinkSocket& socket, std::string_view name, std::string_view peer_name);
// Deletes the link; returns false when it did not exist.
bool delete_link(NetlinkSocket& socket, std::string_view name);

}  // namespace wgmesh::netlink
