// The collision nonce a node chose for itself, kept in the state dir so that a restart
// comes back with the same mesh address instead of colliding again (SPEC section 6).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::mesh {

// What is stored: the node's key and the address the nonce gave it, so a nonce is only
// adopted for the same key, secret and subnet it was chosen for.
struct PersistedNonce {
    wg::Key public_key;
    std::uint32_t nonce = 0;
    netlink::IpAddress mesh_ip;
};

// <state-dir>/<iface>.nonce
std::filesystem::path nonce_file_path(const std::filesystem::path& state_dir,
                                      std::string_view interface_name);

// nullopt when the file does not exist; throws std::runtime_error naming the file when it
// cannot be read or is not a valid nonce file (larger than 4 KiB, bad JSON, bad fields).
std::optional<PersistedNonce> read_nonce_file(const std::filesystem::path& path);

// Atomic and durable: a 0600 temp file in the same directory, write, fsync, rename, fsync
// of the directory; the directory is created 0700 when missing. Throws std::system_error
// naming the file and the errno text.
void write_nonce_file(const std::filesystem::path& path, const PersistedNonce& value);

}  // namespace wgmesh::mesh
