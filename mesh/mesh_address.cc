#include "mesh/mesh_address.h"

#include <algorithm>
#include <stdexcept>

#include "mesh/secret.h"
#include "wg/crypto/memory.h"

namespace wgmesh::mesh {

namespace {

constexpr unsigned kIpv4Bits = 32;
constexpr unsigned kIpv6PrefixBytes = 8;

std::uint64_t big_endian_u64(const std::array<std::uint8_t, 32>& hash) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        value = (value << 8) | hash[i];
    }
    return value;
}

std::uint32_t ipv4_to_u32(const netlink::IpAddress& address) {
    const std::uint8_t* b = address.data();
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}

netlink::IpAddress u32_to_ipv4(std::uint32_t value) {
    return netlink::IpAddress::v4(
        static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
        static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value));
}

unsigned checked_host_bits(const netlink::Prefix& subnet) {
    if (!subnet.address().is_v4()) {
        throw std::invalid_argument("mesh subnet " + subnet.to_string() +
                                    ": only IPv4 subnets are supported");
    }
    if (subnet.length() > kMaxCustomSubnetLength) {
        throw std::invalid_argument("mesh subnet " + subnet.to_string() +
                                    " is too small: it needs at least 2 host bits (/30 at most)");
    }
    return kIpv4Bits - subnet.length();
}

// The host number is below 2^hostbits - 1, so the sum stays inside the subnet.
netlink::IpAddress host_in_subnet(const netlink::Prefix& subnet,
                                  const std::array<std::uint8_t, 32>& hash) {
    const unsigned host_bits = checked_host_bits(subnet);
    const std::uint64_t usable_hosts = (std::uint64_t{1} << host_bits) - 2;
    const std::uint64_t host = big_endian_u64(hash) % usable_hosts + 1;
    return u32_to_ipv4(ipv4_to_u32(subnet.address()) + static_cast<std::uint32_t>(host));
}

}  // namespace

netlink::IpAddress derive_mesh_ip(const std::array<std::uint8_t, 2>& mesh_subnet,
                                  std::string_view pubkey_base64, std::string_view secret) {
    const auto h = sha256({pubkey_base64, secret});
    std::uint8_t last = h[1];
    // .0 and .255 would look like network and broadcast addresses to some tools.
    if (last == 0) {
        last = 1;
    } else if (last == 255) {
        last = 254;
    }
    return netlink::IpAddress::v4(10, mesh_subnet[0],
                                  static_cast<std::uint8_t>(h[0] ^ mesh_subnet[1]), last);
}

std::string nonce_derivation_text(std::string_view pubkey_base64, std::string_view secret,
                                  std::uint32_t nonce) {
    std::string text;
    text.reserve(pubkey_base64.size() + secret.size() + 40);
    text += std::to_string(pubkey_base64.size());
    text += ':';
    text += pubkey_base64;
    text += '|';
    text += std::to_string(secret.size());
    text += ':';
    text += secret;
    text += "|nonce=";
    text += std::to_string(nonce);
    return text;
}

netlink::IpAddress derive_mesh_ip_with_nonce(const std::array<std::uint8_t, 2>& mesh_subnet,
                                             std::string_view pubkey_base64,
                                             std::string_view secret, std::uint32_t nonce) {
    std::string text = nonce_derivation_text(pubkey_base64, secret, nonce);
    const auto h = sha256({text});
    wg::crypto::wipe(text);
    unsigned host = (unsigned{h[0]} << 8) | h[1];
    if (host == 0) {
        host = 1;
    } else if (host == 0xffff) {
        host = 0xfffe;
    }
    return netlink::IpAddress::v4(10, mesh_subnet[0], static_cast<std::uint8_t>(host >> 8),
                                  static_cast<std::uint8_t>(host & 0xff));
}

netlink::Prefix parse_custom_mesh_subnet(std::string_view cidr) {
    // Like net.ParseCIDR: the length is mandatory, a bare address is not a subnet.
    auto prefix =
        cidr.find('/') == std::string_view::npos ? std::nullopt : netlink::Prefix::parse(cidr);
    if (!prefix) {
        throw std::invalid_argument("invalid mesh subnet '" + std::string(cidr) +
                                    "': expected an IPv4 CIDR such as 192.168.100.0/24");
    }
    checked_host_bits(*prefix);
    return *prefix;
}

netlink::IpAddress derive_mesh_ip_in_subnet(const netlink::Prefix& subnet,
                                            std::string_view pubkey_base64,
                                            std::string_view secret) {
    return host_in_subnet(subnet, sha256({pubkey_base64, secret}));
}

netlink::IpAddress derive_mesh_ip_in_subnet_with_nonce(const netlink::Prefix& subnet,
                                                       std::string_view pubkey_base64,
                                                       std::string_view secret,
                                                       std::uint32_t nonce) {
    std::string text = nonce_derivation_text(pubkey_base64, secret, nonce);
    const auto h = sha256({text});
    wg::crypto::wipe(text);
    return host_in_subnet(subnet, h);
}

netlink::IpAddress derive_mesh_ipv6(const std::array<std::uint8_t, 8>& mesh_prefix_v6,
                                    std::string_view pubkey_base64, std::string_view secret) {
    const auto h = sha256({pubkey_base64, "|", secret, "|ipv6"});
    std::array<std::uint8_t, 16> bytes{};
    std::copy(mesh_prefix_v6.begin(), mesh_prefix_v6.end(), bytes.begin());
    std::copy_n(h.begin(), 8, bytes.begin() + kIpv6PrefixBytes);
    // A locally administered unicast interface identifier, like SLAAC's.
    bytes[kIpv6PrefixBytes] = static_cast<std::uint8_t>((bytes[kIpv6PrefixBytes] | 0x02) & 0xfe);
    bool all_zero = true;
    for (std::size_t i = kIpv6PrefixBytes; i < bytes.size(); ++i) {
        all_zero = all_zero && bytes[i] == 0;
    }
    if (all_zero) {
        bytes[15] = 1;
    }
    return *netlink::IpAddress::from_bytes(netlink::Family::kIpv6, bytes.data(), bytes.size());
}

MeshAddressing::MeshAddressing(std::string secret, const DerivedKeys& keys,
                               std::optional<netlink::Prefix> custom_subnet)
    : secret_(std::move(secret)),
      mesh_subnet_(keys.mesh_subnet),
      mesh_prefix_v6_(keys.mesh_prefix_v6),
      custom_subnet_(std::move(custom_subnet)),
      network_v4_(custom_subnet_ ? *custom_subnet_ : keys.mesh_network_v4()) {
    if (secret_.size() < kMinSecretBytes) {
        throw std::invalid_argument("the mesh secret must be at least " +
                                    std::to_string(kMinSecretBytes) + " bytes long");
    }
    if (custom_subnet_) {
        checked_host_bits(*custom_subnet_);
    }
}

MeshAddressing::~MeshAddressing() {
    wg::crypto::wipe(secret_);
}

netlink::IpAddress MeshAddressing::mesh_ip(const wg::Key& public_key, std::uint32_t nonce) const {
    const std::string key = public_key.to_base64();
    if (custom_subnet_) {
        return nonce == 0
                   ? derive_mesh_ip_in_subnet(*custom_subnet_, key, secret_)
                   : derive_mesh_ip_in_subnet_with_nonce(*custom_subnet_, key, secret_, nonce);
    }
    return nonce == 0 ? derive_mesh_ip(mesh_subnet_, key, secret_)
                      : derive_mesh_ip_with_nonce(mesh_subnet_, key, secret_, nonce);
}

netlink::IpAddress MeshAddressing::mesh_ipv6(const wg::Key& public_key) const {
    return derive_mesh_ipv6(mesh_prefix_v6_, public_key.to_base64(), secret_);
}

netlink::Prefix MeshAddressing::network_v6() const {
    std::array<std::uint8_t, 16> bytes{};
    std::copy(mesh_prefix_v6_.begin(), mesh_prefix_v6_.end(), bytes.begin());
    return netlink::Prefix(
        *netlink::IpAddress::from_bytes(netlink::Family::kIpv6, bytes.data(), bytes.size()), 64);
}

netlink::InterfaceAddress MeshAddressing::interface_address(
    const netlink::IpAddress& mesh_ip) const {
    if (mesh_ip.is_v6()) {
        return {mesh_ip, 64};
    }
    return {mesh_ip, network_v4_.length()};
}

}  // namespace wgmesh::mesh
