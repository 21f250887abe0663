// What `wgmesh join` changed on its interface, kept in `<state-dir>/<iface>.state` so that
// `wgmesh cleanup` removes exactly that: whether wgmesh created the interface (an adopted
// one is left in place) and which addresses it put on it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/ip_address.h"

namespace wgmesh::cli {

struct InterfaceState {
    bool created = false;  // wgmesh created the interface (kernel link or userspace)
    std::string backend;   // "kernel" or "userspace"
    std::vector<netlink::InterfaceAddress> addresses;

    bool operator==(const InterfaceState&) const = default;
};

// <state-dir>/<iface>.state
std::filesystem::path interface_state_path(const std::filesystem::path& state_dir,
                                           std::string_view interface_name);

// nullopt when the file does not exist. Throws std::runtime_error naming the file when it
// is unreadable, larger than 64 KiB or not a valid state document.
std::optional<InterfaceState> read_interface_state(const std::filesystem::path& path);
// Atomic (0600 temp file, fsync, rename, directory fsync).
void write_interface_state(const std::filesystem::path& path, const InterfaceState& state);

}  // namespace wgmesh::cli
