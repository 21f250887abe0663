#include "mesh/derived_keys.h"

#include <algorithm>
#include <stdexcept>

#include "mesh/secret.h"
#include "wg/crypto/hkdf_sha256.h"
#include "wg/crypto/memory.h"
#include "wg/crypto/sha256.h"
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

}  // namespace

DerivedKeys::~DerivedKeys() {
    wg::crypto::wipe(gossip_key);
    wg::crypto::wipe(psk);
    wg::crypto::wipe(membership_key);
    wg::crypto::wipe(epoch_seed);
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
    // RFC 5869: an absent salt is HashLen zero bytes; spelled out so the intent is visible.
    const std::array<std::uint8_t, wg::crypto::kSha256Size> zero_salt{};
    wg::crypto::hkdf_sha256(zero_salt, wg::crypto::byte_view(ikm), wg::crypto::byte_view(info),
                            out);
}

std::array<std::uint8_t, 32> sha256(std::initializer_list<std::string_view> parts) {
    wg::crypto::Sha256 hasher;
    for (auto part : parts) {
        hasher.update(part);
    }
    return hasher.finish();
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
