// Interface names as the kernel accepts them (dev_valid_name), checked before they become
// part of a file path such as "<state-dir>/<iface>-peers.json".
#pragma once

#include <string_view>

namespace wgmesh::mesh {

inline constexpr std::size_t kMaxInterfaceNameBytes = 15;  // IFNAMSIZ - 1

// 1 to 15 printable ASCII bytes, not "." or "..", without '/', ':' or whitespace.
bool is_valid_interface_name(std::string_view name);
// Throws std::invalid_argument naming the rejected name.
void require_valid_interface_name(std::string_view name);

}  // namespace wgmesh::mesh
