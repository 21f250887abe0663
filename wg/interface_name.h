// Interface names reach file paths (the UAPI socket) and netlink attributes: one check for
// both, at the edge.
#pragma once

#include <string_view>

namespace wgmesh::wg {

// Throws std::invalid_argument unless `name` is a valid Linux interface name: 1-15 bytes,
// no '/', no whitespace or control characters, not "." or "..".
void require_valid_interface_name(std::string_view name);

}  // namespace wgmesh::wg
