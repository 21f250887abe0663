// HKDF-SHA256 (RFC 5869): every key the mesh derives from its secret (SPEC section 3).
#pragma once

#include <cstdint>
#include <span>

#include "wg/crypto/sha256.h"

namespace wgmesh::wg::crypto {

// The most output one expansion may produce: 255 blocks (RFC 5869 section 2.3).
inline constexpr std::size_t kHkdfSha256MaxOutput = 255 * kSha256Size;

// PRK = HMAC-SHA256(salt, IKM). An empty salt is HashLen zero bytes, as the RFC says (HMAC
// pads both to the same key block).
Sha256Digest hkdf_sha256_extract(std::span<const std::uint8_t> salt,
                                 std::span<const std::uint8_t> ikm);

// Fills `out` with T(1) | T(2) | ... from the PRK and `info`. Throws std::invalid_argument
// when `out` is longer than kHkdfSha256MaxOutput.
void hkdf_sha256_expand(std::span<const std::uint8_t> prk, std::span<const std::uint8_t> info,
                        std::span<std::uint8_t> out);

// Extract, then expand.
void hkdf_sha256(std::span<const std::uint8_t> salt, std::span<const std::uint8_t> ikm,
                 std::span<const std::uint8_t> info, std::span<std::uint8_t> out);

}  // namespace wgmesh::wg::crypto
