#include "wg/key.h"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "wg/crypto/memory.h"
#include "wg/crypto/random.h"
#include "wg/crypto/x25519.h"
#include "wg/encoding.h"

namespace wgmesh::wg {

namespace {

// Each base64 digit value's rank in ASCII order, so that comparing ranks digit by digit is
// comparing the base64 texts.
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kBase64InAsciiOrder =
    "+/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::array<std::uint8_t, 64> kBase64Rank = [] {
    std::array<std::uint8_t, 64> rank{};
    for (std::size_t value = 0; value < rank.size(); ++value) {
        rank[value] = static_cast<std::uint8_t>(kBase64InAsciiOrder.find(kBase64Alphabet[value]));
    }
    return rank;
}();

// The rank of the index-th base64 digit of `bytes` (the last digit's low bits are zero
// padding, as base64 writes them).
std::uint8_t digit_rank(const std::array<std::uint8_t, Key::kSize>& bytes, std::size_t index) {
    const std::size_t bit = index * 6;
    const std::size_t byte = bit / 8;
    const unsigned window =
        (unsigned{bytes[byte]} << 8) | (byte + 1 < Key::kSize ? bytes[byte + 1] : 0u);
    return kBase64Rank[(window >> (10 - bit % 8)) & 0x3f];
}

}  // namespace

Key::~Key() {
    crypto::wipe(bytes_);
}

std::optional<Key> Key::parse(std::string_view text) {
    std::optional<std::vector<std::uint8_t>> raw;
    if (text.size() == 44) {
        raw = base64_decode(text);
    } else if (text.size() == 64) {
        raw = hex_decode(text);
    }
    if (!raw || raw->size() != kSize) {
        return std::nullopt;
    }
    Key key;
    std::memcpy(key.bytes_.data(), raw->data(), kSize);
    crypto::wipe(*raw);
    return key;
}

Key Key::parse_or_throw(std::string_view text) {
    if (auto key = parse(text)) {
        return *key;
    }
    throw std::invalid_argument("invalid key: expected 32 bytes as base64 (44 chars) or hex");
}

Key Key::generate_private() {
    Key key;
    crypto::random_bytes(key.bytes_);
    key.bytes_[0] &= 248;
    key.bytes_[31] = (key.bytes_[31] & 127) | 64;
    return key;
}

Key Key::public_key() const {
    return Key(crypto::x25519_base(bytes_));
}

std::string Key::to_base64() const {
    return base64_encode(bytes_);
}

std::string Key::to_hex() const {
    return hex_encode(bytes_);
}

bool Key::is_zero() const {
    std::uint8_t acc = 0;
    for (auto b : bytes_)
        acc |= b;
    return acc == 0;
}

bool Key::operator<(const Key& other) const {
    // The digits before the one holding the first differing bit are equal, so that digit
    // alone decides: one byte scan and two lookups instead of 43 digit ranks per comparison
    // (std::map<Key> lookups compare equal keys to the end).
    std::size_t byte = 0;
    while (byte < kSize && bytes_[byte] == other.bytes_[byte]) {
        ++byte;
    }
    if (byte == kSize) {
        return false;
    }
    const auto differing = static_cast<std::uint8_t>(bytes_[byte] ^ other.bytes_[byte]);
    const std::size_t digit =
        (byte * 8 + static_cast<std::size_t>(std::countl_zero(differing))) / 6;
    return digit_rank(bytes_, digit) < digit_rank(other.bytes_, digit);
}

bool Key::operator==(const Key& other) const {
    return crypto::constant_time_equal(bytes_, other.bytes_);
}

}  // namespace wgmesh::wg

std::size_t std::hash<wgmesh::wg::Key>::operator()(const wgmesh::wg::Key& k) const noexcept {
    // Keys are uniformly random already: their first bytes make a good hash.
    std::size_t h;
    std::memcpy(&h, k.bytes().data(), sizeof(h));
    return h;
}
