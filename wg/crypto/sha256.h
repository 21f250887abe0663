// SHA-256 (FIPS 180-4). The mesh's derivations are defined on it (SPEC section 3) and must
// match the Go daemon bit for bit.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace wgmesh::wg::crypto {

inline constexpr std::size_t kSha256Size = 32;
inline constexpr std::size_t kSha256BlockSize = 64;
using Sha256Digest = std::array<std::uint8_t, kSha256Size>;

// Incremental hashing: update() any number of times, then finish() once. Copying a hasher
// forks it (HMAC keeps its keyed states that way). The state is wiped on destruction, since
// it may hold key material.
class Sha256 {
  public:
    Sha256() = default;
    Sha256(const Sha256&) = default;
    Sha256& operator=(const Sha256&) = default;
    ~Sha256();

    void update(std::span<const std::uint8_t> data);
    void update(std::string_view data);
    // The digest of everything updated so far; the hasher is spent afterwards.
    Sha256Digest finish();

    static Sha256Digest hash(std::span<const std::uint8_t> data);
    static Sha256Digest hash(std::string_view data);

  private:
    void compress(const std::uint8_t* block);

    std::array<std::uint32_t, 8> state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, kSha256BlockSize> buffer_{};
    std::size_t buffered_ = 0;
    std::uint64_t total_bytes_ = 0;
};

}  // namespace wgmesh::wg::crypto
