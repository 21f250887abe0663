// The node's WireGuard private key, `<state-dir>/<iface>.key` (SPEC section 11): one base64
// line as `wg genkey` writes it, mode 0600, created atomically on first start.
#pragma once

#include <filesystem>
#include <string_view>

#include "wg/key.h"

namespace wgmesh::mesh {

// <state-dir>/<iface>.key
std::filesystem::path node_key_path(const std::filesystem::path& state_dir,
                                    std::string_view interface_name);

struct NodeKey {
    wg::Key private_key;
    bool created = false;
    bool too_open = false;  // the existing file is readable by group or others
};

// Loads the key, or creates it when the file does not exist: a new clamped key written to a
// 0600 temporary file in the same directory, fsynced, then linked into place (so two
// starts racing never overwrite each other's key) and the directory fsynced. The state dir
// is created 0700 when missing. Throws std::runtime_error / std::system_error naming the
// file when it cannot be read or written or does not hold exactly one valid base64 key.
NodeKey load_or_create_node_key(const std::filesystem::path& path);

}  // namespace wgmesh::mesh
