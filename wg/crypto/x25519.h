// X25519 (RFC 7748): WireGuard's key agreement function. wgmesh needs it for the public key
// of a private key (`wgmesh pubkey`, the daemon's own key); the general scalar
// multiplication is what the RFC's vectors pin down.
#pragma once

#include <array>
#include <cstdint>

namespace wgmesh::wg::crypto {

inline constexpr std::size_t kX25519Size = 32;
using X25519Bytes = std::array<std::uint8_t, kX25519Size>;

// X25519(scalar, u) as RFC 7748 section 5 defines it: the scalar is clamped, u's top bit is
// ignored and a u of p or more is reduced. Constant-time in the scalar and in u.
X25519Bytes x25519(const X25519Bytes& scalar, const X25519Bytes& u);

// X25519(scalar, 9): the public key of the private key `scalar`.
X25519Bytes x25519_base(const X25519Bytes& scalar);

}  // namespace wgmesh::wg::crypto
