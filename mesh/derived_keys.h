// Everything a mesh derives from its shared secret (SPEC section 3), bit for bit as the Go
// daemon does, so nodes of both implementations land in the same mesh.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::mesh {

// Byte fields are secrets or identifiers shared by every node; they are wiped on
// destruction because psk, gossip_key and membership_key grant access to the mesh.
struct DerivedKeys {
    std::array<std::uint8_t, 20> network_id{};  // SHA256(secret)[0:20]
    std::array<std::uint8_t, 32> gossip_key{};
    std::array<std::uint8_t, 2> mesh_subnet{};     // the mesh is 10.{mesh_subnet[0]}.0.0/16
    std::array<std::uint8_t, 8> mesh_prefix_v6{};  // 0xfd + 7 HKDF bytes: a ULA /64
    std::array<std::uint8_t, 4> multicast_id{};
    std::array<std::uint8_t, 32> psk{};  // WireGuard preshared key for every peer
    std::uint16_t gossip_port = 0;
    std::array<std::uint8_t, 8> rendezvous_id{};  // SHA256(secret || "rv")[0:8]
    std::array<std::uint8_t, 32> membership_key{};
    std::array<std::uint8_t, 32> epoch_seed{};  // keys the Dandelion++ relay ranking

    DerivedKeys() = default;
    DerivedKeys(const DerivedKeys&) = default;
    DerivedKeys& operator=(const DerivedKeys&) = default;
    ~DerivedKeys();

    // Lowercase hex of network_id[0:6].
    std::string mesh_id() const;
    // 10.{mesh_subnet[0]}.0.0/16.
    netlink::Prefix mesh_network_v4() const;
    // mesh_prefix_v6 followed by zeros, /64.
    netlink::Prefix mesh_network_v6() const;
    wg::Key preshared_key() const { return wg::Key(psk); }
};

// `secret` is the secret's bytes as parse_secret() returns them. Throws
// std::invalid_argument when it is shorter than kMinSecretBytes.
DerivedKeys derive_keys(std::string_view secret);

// HKDF-SHA256 (RFC 5869) with IKM = `ikm`, no salt (HashLen zero bytes), info = `info`,
// filling `out`. Exposed for the derivations that need one labelled key.
void hkdf_sha256(std::string_view ikm, std::string_view info, std::span<std::uint8_t> out);

// SHA-256 of the concatenation of `parts`.
std::array<std::uint8_t, 32> sha256(std::initializer_list<std::string_view> parts);

}  // namespace wgmesh::mesh
