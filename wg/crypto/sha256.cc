#include "wg/crypto/sha256.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "wg/crypto/memory.h"

namespace wgmesh::wg::crypto {

namespace {

// FIPS 180-4 section 4.2.2: the first 32 bits of the fractional parts of the cube roots of
// the first 64 primes.
constexpr std::array<std::uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

constexpr std::size_t kLengthFieldSize = 8;

std::uint32_t load_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

void store_be32(std::uint8_t* p, std::uint32_t value) {
    p[0] = static_cast<std::uint8_t>(value >> 24);
    p[1] = static_cast<std::uint8_t>(value >> 16);
    p[2] = static_cast<std::uint8_t>(value >> 8);
    p[3] = static_cast<std::uint8_t>(value);
}

}  // namespace

Sha256::~Sha256() {
    wipe(state_);
    wipe(buffer_);
}

void Sha256::compress(const std::uint8_t* block) {
    std::array<std::uint32_t, 64> w;
    for (std::size_t t = 0; t < 16; ++t) {
        w[t] = load_be32(block + 4 * t);
    }
    for (std::size_t t = 16; t < 64; ++t) {
        const std::uint32_t s0 =
            std::rotr(w[t - 15], 7) ^ std::rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        const std::uint32_t s1 =
            std::rotr(w[t - 2], 17) ^ std::rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    std::uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (std::size_t t = 0; t < 64; ++t) {
        const std::uint32_t sum1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
        const std::uint32_t choose = (e & f) ^ (~e & g);
        const std::uint32_t t1 = h + sum1 + choose + kRoundConstants[t] + w[t];
        const std::uint32_t sum0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
        const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        const std::uint32_t t2 = sum0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
}

void Sha256::update(std::span<const std::uint8_t> data) {
    total_bytes_ += data.size();
    const std::uint8_t* next = data.data();
    std::size_t left = data.size();
    if (buffered_ > 0) {
        const std::size_t take = std::min(left, kSha256BlockSize - buffered_);
        std::memcpy(buffer_.data() + buffered_, next, take);
        buffered_ += take;
        next += take;
        left -= take;
        if (buffered_ < kSha256BlockSize) {
            return;
        }
        compress(buffer_.data());
        buffered_ = 0;
    }
    for (; left >= kSha256BlockSize; next += kSha256BlockSize, left -= kSha256BlockSize) {
        compress(next);
    }
    if (left > 0) {
        std::memcpy(buffer_.data(), next, left);
        buffered_ = left;
    }
}

void Sha256::update(std::string_view data) {
    update(byte_view(data));
}

Sha256Digest Sha256::finish() {
    // FIPS 180-4 section 5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, the length in bits.
    const std::uint64_t total_bits = total_bytes_ * 8;
    buffer_[buffered_++] = 0x80;
    if (buffered_ > kSha256BlockSize - kLengthFieldSize) {
        std::memset(buffer_.data() + buffered_, 0, kSha256BlockSize - buffered_);
        compress(buffer_.data());
        buffered_ = 0;
    }
    std::memset(buffer_.data() + buffered_, 0, kSha256BlockSize - kLengthFieldSize - buffered_);
    for (std::size_t i = 0; i < kLengthFieldSize; ++i) {
        buffer_[kSha256BlockSize - 1 - i] = static_cast<std::uint8_t>(total_bits >> (8 * i));
    }
    compress(buffer_.data());
    Sha256Digest digest;
    for (std::size_t i = 0; i < state_.size(); ++i) {
        store_be32(digest.data() + 4 * i, state_[i]);
    }
    return digest;
}

Sha256Digest Sha256::hash(std::span<const std::uint8_t> data) {
    Sha256 hasher;
    hasher.update(data);
    return hasher.finish();
}

Sha256Digest Sha256::hash(std::string_view data) {
    return hash(byte_view(data));
}

}  // namespace wgmesh::wg::crypto
