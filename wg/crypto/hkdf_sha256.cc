#include "wg/crypto/hkdf_sha256.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "wg/crypto/hmac_sha256.h"
#include "wg/crypto/memory.h"

namespace wgmesh::wg::crypto {

namespace {

void check_output_size(std::size_t size) {
    if (size > kHkdfSha256MaxOutput) {
        throw std::invalid_argument("HKDF-SHA256 cannot expand to " + std::to_string(size) +
                                    " bytes (at most " + std::to_string(kHkdfSha256MaxOutput) +
                                    ")");
    }
}

}  // namespace

Sha256Digest hkdf_sha256_extract(std::span<const std::uint8_t> salt,
                                 std::span<const std::uint8_t> ikm) {
    return hmac_sha256(salt, ikm);
}

void hkdf_sha256_expand(std::span<const std::uint8_t> prk, std::span<const std::uint8_t> info,
                        std::span<std::uint8_t> out) {
    check_output_size(out.size());
    const HmacSha256 hmac(prk);
    // T(i) = HMAC(PRK, T(i-1) | info | i), with T(0) empty.
    std::vector<std::uint8_t> input;
    input.reserve(kSha256Size + info.size() + 1);
    Sha256Digest block{};
    std::size_t filled = 0;
    for (unsigned counter = 1; filled < out.size(); ++counter) {
        input.clear();
        if (counter > 1) {
            input.insert(input.end(), block.begin(), block.end());
        }
        input.insert(input.end(), info.begin(), info.end());
        input.push_back(static_cast<std::uint8_t>(counter));
        block = hmac.mac(input);
        const std::size_t take = std::min(block.size(), out.size() - filled);
        std::copy_n(block.begin(), take, out.begin() + static_cast<std::ptrdiff_t>(filled));
        filled += take;
    }
    wipe(block);
    wipe(input);
}

void hkdf_sha256(std::span<const std::uint8_t> salt, std::span<const std::uint8_t> ikm,
                 std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
    check_output_size(out.size());  // before the PRK exists, so no path leaves it unwiped
    Sha256Digest prk = hkdf_sha256_extract(salt, ikm);
    hkdf_sha256_expand(prk, info, out);
    wipe(prk);
}

}  // namespace wgmesh::wg::crypto
