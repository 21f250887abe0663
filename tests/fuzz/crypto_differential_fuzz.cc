// Our SHA-256, HMAC-SHA256, HKDF-SHA256 and X25519 (wg/crypto/) against OpenSSL's on the
// same inputs. OpenSSL is linked into this target only, as the reference.
//
// Input: byte 0 picks the primitive (mod 4: SHA-256, HMAC, HKDF, X25519); the rest is
// hashed whole, or for HMAC and HKDF is a key (salt) length byte, two bytes that pick the
// HKDF output length, the key and the message (IKM), or for X25519 a scalar and a u.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "wg/crypto/hkdf_sha256.h"
#include "wg/crypto/hmac_sha256.h"
#include "wg/crypto/sha256.h"
#include "wg/crypto/x25519.h"

namespace {

using namespace wgmesh::wg::crypto;
using Bytes = std::span<const std::uint8_t>;

void require(bool condition) {
    if (!condition) {
        __builtin_trap();
    }
}

void check_sha256(Bytes data) {
    Sha256Digest reference;
    unsigned length = 0;
    require(EVP_Digest(data.data(), data.size(), reference.data(), &length, EVP_sha256(),
                       nullptr) == 1);
    require(Sha256::hash(data) == reference);
    // Incrementally, split where the data says.
    const std::size_t split = data.empty() ? 0 : data[0] % (data.size() + 1);
    Sha256 hasher;
    hasher.update(data.first(split));
    hasher.update(data.subspan(split));
    require(hasher.finish() == reference);
}

void check_hmac(Bytes key, Bytes message) {
    Sha256Digest reference;
    unsigned length = 0;
    require(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(),
                 message.size(), reference.data(), &length) != nullptr);
    require(hmac_sha256(key, message) == reference);
}

void check_hkdf(Bytes salt, Bytes ikm, Bytes info, std::size_t out_size) {
    using KdfPtr = std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)>;
    using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)>;
    static const KdfPtr kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr), &EVP_KDF_free);
    require(kdf != nullptr);
    KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()), &EVP_KDF_CTX_free);
    require(ctx != nullptr);
    char digest[] = "SHA256";
    std::vector<OSSL_PARAM> params = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.data()),
                                          ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                          const_cast<std::uint8_t*>(info.data()), info.size()),
    };
    // OpenSSL wants no salt parameter, rather than an empty one, for "no salt".
    if (!salt.empty()) {
        params.push_back(OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size()));
    }
    params.push_back(OSSL_PARAM_construct_end());
    std::vector<std::uint8_t> reference(out_size);
    require(EVP_KDF_derive(ctx.get(), reference.data(), reference.size(), params.data()) == 1);
    std::vector<std::uint8_t> ours(out_size);
    hkdf_sha256(salt, ikm, info, ours);
    require(ours == reference);
}

void check_x25519(Bytes input) {
    X25519Bytes scalar;
    X25519Bytes u;
    std::copy_n(input.begin(), scalar.size(), scalar.begin());
    std::copy_n(input.begin() + 32, u.size(), u.begin());
    using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
    using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
    const PkeyPtr own(
        EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar.data(), scalar.size()),
        &EVP_PKEY_free);
    const PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, u.data(), u.size()),
                       &EVP_PKEY_free);
    require(own && peer);

    X25519Bytes public_key;
    std::size_t length = public_key.size();
    require(EVP_PKEY_get_raw_public_key(own.get(), public_key.data(), &length) == 1);
    require(x25519_base(scalar) == public_key);

    const PkeyCtxPtr ctx(EVP_PKEY_CTX_new(own.get(), nullptr), &EVP_PKEY_CTX_free);
    require(ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
            EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) == 1);
    X25519Bytes reference;
    length = reference.size();
    const X25519Bytes ours = x25519(scalar, u);
    if (EVP_PKEY_derive(ctx.get(), reference.data(), &length) == 1) {
        require(ours == reference);
    } else {
        // OpenSSL refuses an all-zero shared secret (a low-order u); ours returns it.
        require(ours == X25519Bytes{});
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) {
        return 0;
    }
    // One primitive per input keeps a run cheap (X25519 and long HKDF outputs cost a
    // millisecond or more under the sanitizers); the fuzzer learns the selector byte.
    const Bytes input(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0:
            check_sha256(input);
            break;
        case 1:
        case 2: {
            const std::size_t key_size = std::min<std::size_t>(input[0], input.size() - 3);
            const Bytes key = input.subspan(3, key_size);
            const Bytes message = input.subspan(3 + key_size);
            if (data[0] % 4 == 1) {
                check_hmac(key, message);
                break;
            }
            // OpenSSL refuses to expand to nothing: 1 byte to 255 blocks.
            const std::size_t out_size =
                1 + ((std::size_t{input[1]} << 8) | input[2]) % kHkdfSha256MaxOutput;
            const Bytes info = message.first(std::min<std::size_t>(message.size(), key_size / 2));
            check_hkdf(key, message, info, out_size);
            break;
        }
        default:
            if (input.size() >= 2 * kX25519Size) {
                check_x25519(input);
            }
    }
    return 0;
}
