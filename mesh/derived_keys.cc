#include "mesh/derived_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "mesh/secret.h"
#include "wg/encoding.h"

namespace wgmesh::mesh {

namespace {

// HKDF info labels: part of the wire format shared with the Go daemon, never change them.
constexpr std::string_view kGossipLabel = "wgmesh-gossip-v1";
constexpr std::string_view kSubnetLabel = "wgmesh-subnet-v1";
constexpr std::string_view kIpv6PrefixLabel = "wgmesh-ipv6-prefix-v1";
constexpr std::string_view kMulticastLabel = "wgmesh-mcast-v1";
constexpr std::string_view kPskLabel = "wgmesh-wg-psk-v1";
constexpr std::string_view kGossipPortLabel = "wgmesh-gossip-port-v1";
constexpr std::string_view kMembershipLabel = "wgmesh-membership-v1";
constexpr std::string_view kEpochLabel = "wgmesh-epoch-v1";
constexpr std::string_view kRendezvousSuffix = "rv";

constexpr std::uint16_t kGossipPortBase = 51821;
constexpr std::uint16_t kGossipPortRange = 1000;
constexpr std::uint8_t kUlaPrefixByte = 0xfd;

using KdfPtr = std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

}  // namespace

DerivedKeys::~DerivedKeys() {
    OPENSSL_cleanse(gossip_key.data(), gossip_key.size());
    OPENSSL_cleanse(psk.data(), psk.size());
    OPENSSL_cleanse(membership_key.data(), membership_key.size());
    OPENSSL_cleanse(epoch_seed.data(), epoch_seed.size());
}

std::string DerivedKeys::mesh_id() const {
    return wg::hex_encode(std::span(network_id).first(6));
}

netlink::Prefix DerivedKeys::mesh_network_v4() const {
    return netlink::Prefix(netlink::IpAddress::v4(10, mesh_subnet[0], 0, 0), 16);
}

netlink::Prefix DerivedKeys::mesh_network_v6() const {
    std::array<std::uint8_t, 16> bytes{};
    std::copy(mesh_prefix_v6.begin(), mesh_prefix_v6.end(), bytes.begin());
    return netlink::Prefix(
        *netlink::IpAddress::from_bytes(netlink::Family::kIpv6, bytes.data(), bytes.size()), 64);
}

void hkdf_sha256(std::string_view ikm, std::string_view info, std::span<std::uint8_t> out) {
    KdfPtr kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr), &EVP_KDF_free);
    if (!kdf) {
        throw std::runtime_error("OpenSSL has no HKDF implementation");
    }
    KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()), &EVP_KDF_CTX_free);
    if (!ctx) {
        throw std::runtime_error("could not create an OpenSSL HKDF context");
    }
    // RFC 5869: an absent salt is HashLen zero bytes; spelled out so the intent is visible.
    std::array<std::uint8_t, 32> zero_salt{};
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                          ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, zero_salt.data(), zero_salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                          info.size()),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
        throw std::runtime_error("OpenSSL HKDF-SHA256 failed for label '" + std::string(info) +
                                 "'");
    }
}

std::array<std::uint8_t, 32> sha256(std::initializer_list<std::string_view> parts) {
    MdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    std::array<std::uint8_t, 32> digest{};
    unsigned int length = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
    for (auto part : parts) {
        ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) == 1;
    if (!ok || length != digest.size()) {
        throw std::runtime_error("OpenSSL SHA-256 failed");
    }
    return digest;
}

DerivedKeys derive_keys(std::string_view secret) {
    if (secret.size() < kMinSecretBytes) {
        throw std::invalid_argument("the mesh secret must be at least " +
                                    std::to_string(kMinSecretBytes) + " bytes long");
    }
    DerivedKeys keys;
    const auto secret_hash = sha256({secret});
    std::copy_n(secret_hash.begin(), keys.network_id.size(), keys.network_id.begin());

    hkdf_sha256(secret, kGossipLabel, keys.gossip_key);
    hkdf_sha256(secret, kSubnetLabel, keys.mesh_subnet);

    keys.mesh_prefix_v6[0] = kUlaPrefixByte;
    hkdf_sha256(secret, kIpv6PrefixLabel, std::span(keys.mesh_prefix_v6).subspan(1));

    hkdf_sha256(secret, kMulticastLabel, keys.multicast_id);
    hkdf_sha256(secret, kPskLabel, keys.psk);

    std::array<std::uint8_t, 2> port_bytes{};
    hkdf_sha256(secret, kGossipPortLabel, port_bytes);
    const unsigned port_offset =
        ((unsigned{port_bytes[0]} << 8) | port_bytes[1]) % kGossipPortRange;
    keys.gossip_port = static_cast<std::uint16_t>(kGossipPortBase + port_offset);

    const auto rendezvous_hash = sha256({secret, kRendezvousSuffix});
    std::copy_n(rendezvous_hash.begin(), keys.rendezvous_id.size(), keys.rendezvous_id.begin());

    hkdf_sha256(secret, kMembershipLabel, keys.membership_key);
    hkdf_sha256(secret, kEpochLabel, keys.epoch_seed);
    return keys;
}

}  // namespace wgmesh::mesh
