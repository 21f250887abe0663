#include "wg/key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <stdexcept>

#include "wg/encoding.h"

namespace wgmesh::wg {

Key::~Key() {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
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
    OPENSSL_cleanse(raw->data(), raw->size());
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
    if (RAND_bytes(key.bytes_.data(), kSize) != 1) {
        throw std::runtime_error("could not read random bytes for a private key");
    }
    key.bytes_[0] &= 248;
    key.bytes_[31] = (key.bytes_[31] & 127) | 64;
    return key;
}

Key Key::public_key() const {
    using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
    PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, bytes_.data(), kSize),
                 &EVP_PKEY_free);
    if (!pkey) {
        throw std::runtime_error("OpenSSL rejected the X25519 private key");
    }
    Key pub;
    std::size_t len = kSize;
    if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.bytes_.data(), &len) != 1 || len != kSize) {
        throw std::runtime_error("OpenSSL could not compute the X25519 public key");
    }
    return pub;
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

bool Key::operator==(const Key& other) const {
    return CRYPTO_memcmp(bytes_.data(), other.bytes_.data(), kSize) == 0;
}

}  // namespace wgmesh::wg

std::size_t std::hash<wgmesh::wg::Key>::operator()(const wgmesh::wg::Key& k) const noexcept {
    // Keys are uniformly random already: their first bytes make a good hash.
    std::size_t h;
    std::memcpy(&h, k.bytes().data(), sizeof(h));
    return h;
}
