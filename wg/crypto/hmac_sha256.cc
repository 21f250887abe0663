#include "wg/crypto/hmac_sha256.h"

#include <algorithm>
#include <array>

#include "wg/crypto/memory.h"

namespace wgmesh::wg::crypto {

namespace {

constexpr std::uint8_t kInnerPad = 0x36;
constexpr std::uint8_t kOuterPad = 0x5c;

}  // namespace

HmacSha256::HmacSha256(std::span<const std::uint8_t> key) {
    // A key longer than a block is hashed first; a shorter one is padded with zeros.
    std::array<std::uint8_t, kSha256BlockSize> block{};
    if (key.size() > kSha256BlockSize) {
        const Sha256Digest hashed = Sha256::hash(key);
        std::copy(hashed.begin(), hashed.end(), block.begin());
    } else {
        std::copy(key.begin(), key.end(), block.begin());
    }
    std::array<std::uint8_t, kSha256BlockSize> padded;
    for (std::size_t i = 0; i < block.size(); ++i) {
        padded[i] = block[i] ^ kInnerPad;
    }
    inner_.update(padded);
    for (std::size_t i = 0; i < block.size(); ++i) {
        padded[i] = block[i] ^ kOuterPad;
    }
    outer_.update(padded);
    wipe(block);
    wipe(padded);
}

Sha256Digest HmacSha256::mac(std::span<const std::uint8_t> message) const {
    Sha256 inner = inner_;
    inner.update(message);
    const Sha256Digest inner_digest = inner.finish();
    Sha256 outer = outer_;
    outer.update(inner_digest);
    return outer.finish();
}

Sha256Digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message) {
    return HmacSha256(key).mac(message);
}

}  // namespace wgmesh::wg::crypto
