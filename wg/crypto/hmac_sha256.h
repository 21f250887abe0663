// HMAC-SHA256 (RFC 2104, FIPS 198-1): the relay ranking of Dandelion and the base of HKDF.
#pragma once

#include <cstdint>
#include <span>

#include "wg/crypto/sha256.h"

namespace wgmesh::wg::crypto {

// A key prepared once for many messages: the inner and outer hashers have absorbed their
// padded key block already, so each mac() costs the message's blocks plus two (ranking 1000
// peers with one epoch seed is 1000 MACs).
class HmacSha256 {
  public:
    explicit HmacSha256(std::span<const std::uint8_t> key);

    Sha256Digest mac(std::span<const std::uint8_t> message) const;

  private:
    Sha256 inner_;
    Sha256 outer_;
};

Sha256Digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message);

}  // namespace wgmesh::wg::crypto
