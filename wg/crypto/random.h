// The kernel's CSPRNG, for private keys and nonces.
#pragma once

#include <cstdint>
#include <span>

namespace wgmesh::wg::crypto {

// Fills `out` from getrandom(2) (blocking until the kernel's pool is initialised, once per
// boot). Throws std::system_error when the kernel refuses.
void random_bytes(std::span<std::uint8_t> out);

}  // namespace wgmesh::wg::crypto
