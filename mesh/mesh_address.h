// Deterministic mesh addresses (SPEC section 3): every node computes every other node's
// mesh IPv4 and IPv6 address from its public key and the shared secret, exactly as the Go
// daemon does. Public keys enter as their base64 text, the secret as its bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mesh/derived_keys.h"
#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::mesh {

// The longest custom mesh subnet: /30 leaves two usable hosts.
inline constexpr unsigned kMaxCustomSubnetLength = 30;

// 10.{ms0}.{h0 ^ ms1}.{L}, h = SHA256(pubkey || secret), L = h1 with 0 -> 1, 255 -> 254.
netlink::IpAddress derive_mesh_ip(const std::array<std::uint8_t, 2>& mesh_subnet,
                                  std::string_view pubkey_base64, std::string_view secret);

// h = SHA256("<len(pubkey)>:<pubkey>|<len(secret)>:<secret>|nonce=<n>"), u = BE16(h[0:2])
// with 0 -> 1, 65535 -> 65534; 10.{ms0}.{u >> 8}.{u & 255}. mesh_subnet[1] is not used.
netlink::IpAddress derive_mesh_ip_with_nonce(const std::array<std::uint8_t, 2>& mesh_subnet,
                                             std::string_view pubkey_base64,
                                             std::string_view secret, std::uint32_t nonce);

// The text hashed by the nonce variants (exposed for tests and documentation).
std::string nonce_derivation_text(std::string_view pubkey_base64, std::string_view secret,
                                  std::uint32_t nonce);

// Parses a --mesh-subnet value: IPv4 "a.b.c.d/n" with n <= 30 (host bits are cleared, as
// Go's net.ParseCIDR does). Throws std::invalid_argument naming the text otherwise.
netlink::Prefix parse_custom_mesh_subnet(std::string_view cidr);

// network + (BE64(SHA256(pubkey || secret)[0:8]) % (2^hostbits - 2)) + 1. Throws
// std::invalid_argument for an IPv6 subnet or one longer than /30 (no fallback to 10.x).
netlink::IpAddress derive_mesh_ip_in_subnet(const netlink::Prefix& subnet,
                                            std::string_view pubkey_base64,
                                            std::string_view secret);
// The same with the nonce text hashed instead.
netlink::IpAddress derive_mesh_ip_in_subnet_with_nonce(const netlink::Prefix& subnet,
                                                       std::string_view pubkey_base64,
                                                       std::string_view secret,
                                                       std::uint32_t nonce);

// prefix || iid, iid = SHA256(pubkey || "|" || secret || "|ipv6")[0:8] with
// iid0 = (iid0 | 0x02) & 0xfe; an all-zero iid gets iid7 = 1.
netlink::IpAddress derive_mesh_ipv6(const std::array<std::uint8_t, 8>& mesh_prefix_v6,
                                    std::string_view pubkey_base64, std::string_view secret);

// One mesh's addressing parameters: secret, derived subnet bytes and the optional custom
// subnet. Nonce 0 means the plain derivation; a nonce > 0 selects the nonce variant (what
// a node that lost a collision uses).
class MeshAddressing {
  public:
    // Throws std::invalid_argument for a bad custom subnet or a too short secret.
    MeshAddressing(std::string secret, const DerivedKeys& keys,
                   std::optional<netlink::Prefix> custom_subnet = std::nullopt);
    MeshAddressing(const MeshAddressing&) = default;
    MeshAddressing& operator=(const MeshAddressing&) = default;
    ~MeshAddressing();

    netlink::IpAddress mesh_ip(const wg::Key& public_key, std::uint32_t nonce = 0) const;
    netlink::IpAddress mesh_ipv6(const wg::Key& public_key) const;
    // The IPv4 mesh network: the custom subnet, or 10.{ms0}.0.0/16.
    const netlink::Prefix& network_v4() const { return network_v4_; }
    netlink::Prefix network_v6() const;
    // The interface address for a mesh IP: the address with the mesh network's length.
    netlink::InterfaceAddress interface_address(const netlink::IpAddress& mesh_ip) const;
    const std::optional<netlink::Prefix>& custom_subnet() const { return custom_subnet_; }

  private:
    std::string secret_;
    std::array<std::uint8_t, 2> mesh_subnet_{};
    std::array<std::uint8_t, 8> mesh_prefix_v6_{};
    std::optional<netlink::Prefix> custom_subnet_;
    netlink::Prefix network_v4_;
};

}  // namespace wgmesh::mesh
