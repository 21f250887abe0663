// The one rule for interface names across wgmesh. A name becomes a kernel link name, part
// of file paths (<state-dir>/<iface>.key), an nftables table name and a systemd unit
// argument, so it must be safe in all of them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::netlink {

inline constexpr std::size_t kMaxInterfaceNameBytes = 15;  // IFNAMSIZ - 1

// Why `name` is refused, or nullopt. The kernel's dev_valid_name rules (1-15 bytes, not "."
// or "..", no '/', ':' or whitespace), narrowed to letters, digits, '_', '.' and '-' so
// that no quoting, '%', '$' or ';' can ever reach a unit file, a path or nft.
std::optional<std::string> interface_name_problem(std::string_view name);
bool is_valid_interface_name(std::string_view name);
// Throws std::invalid_argument: "invalid interface name 'x': <problem>".
void require_valid_interface_name(std::string_view name);

}  // namespace wgmesh::netlink
