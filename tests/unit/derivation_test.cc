// Derived keys and mesh addresses against vectors computed independently (Python hashlib/hmac,
// tests/vectors/gen_derivation_vectors.py), so both implementations of SPEC section 3 agree.
#include <gtest/gtest.h>

#include <string>

#include "mesh/derived_keys.h"
#include "mesh/mesh_address.h"
#include "mesh/secret.h"
#include "wg/encoding.h"

namespace wgmesh::mesh {
namespace {

struct KeyVector {
    const char* secret_hex;
    const char* network_id;
    const char* mesh_id;
    const char* gossip_key;
    const char* mesh_subnet;
    const char* mesh_network_v4;
    const char* mesh_prefix_v6;
    const char* mesh_network_v6;
    const char* multicast_id;
    const char* psk;
    unsigned gossip_port;
    const char* rendezvous_id;
    const char* membership_key;
    const char* epoch_seed;
};

struct AddressVector {
    std::size_t secret_index;
    const char* pubkey;
    const char* mesh_ip;
    const char* mesh_ip_nonce[3];  // nonces 0, 1, 2
    const char* mesh_ipv6;
};

struct SubnetVector {
    std::size_t secret_index;
    const char* pubkey;
    const char* subnet;
    int nonce;  // -1: the plain derivation
    const char* mesh_ip;
};

#include "tests/unit/derivation_vectors.inc"

std::string secret_of(std::size_t index) {
    const auto bytes = wg::hex_decode(kKeyVectors[index].secret_hex);
    return std::string(bytes->begin(), bytes->end());
}

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& bytes) {
    return wg::hex_encode(bytes);
}

TEST(DerivedKeys, MatchEveryIndependentVector) {
    ASSERT_GE(std::size(kKeyVectors), 20u);
    for (const auto& v : kKeyVectors) {
        const std::string secret = secret_of(&v - kKeyVectors);
        SCOPED_TRACE(v.secret_hex);
        const DerivedKeys keys = derive_keys(secret);
        EXPECT_EQ(hex(keys.network_id), v.network_id);
        EXPECT_EQ(keys.mesh_id(), v.mesh_id);
        EXPECT_EQ(hex(keys.gossip_key), v.gossip_key);
        EXPECT_EQ(hex(keys.mesh_subnet), v.mesh_subnet);
        EXPECT_EQ(keys.mesh_network_v4().to_string(), v.mesh_network_v4);
        EXPECT_EQ(hex(keys.mesh_prefix_v6), v.mesh_prefix_v6);
        EXPECT_EQ(keys.mesh_network_v6().to_string(), v.mesh_network_v6);
        EXPECT_EQ(hex(keys.multicast_id), v.multicast_id);
        EXPECT_EQ(hex(keys.psk), v.psk);
        EXPECT_EQ(keys.preshared_key().to_hex(), v.psk);
        EXPECT_EQ(keys.gossip_port, v.gossip_port);
        EXPECT_EQ(hex(keys.rendezvous_id), v.rendezvous_id);
        EXPECT_EQ(hex(keys.membership_key), v.membership_key);
        EXPECT_EQ(hex(keys.epoch_seed), v.epoch_seed);
    }
}

TEST(DerivedKeys, RejectShortSecrets) {
    EXPECT_THROW(derive_keys("0123456789abcde"), std::invalid_argument);
    EXPECT_NO_THROW(derive_keys("0123456789abcdef"));
}

TEST(DerivedKeys, Rfc5869TestCase3HasNoSalt) {
    // RFC 5869 A.3: IKM = 22 x 0x0b, no salt, no info, L = 42.
    std::array<std::uint8_t, 42> okm{};
    hkdf_sha256(std::string(22, '\x0b'), "", okm);
    EXPECT_EQ(wg::hex_encode(okm),
              "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
              "9d201395faa4b61a96c8");
}

TEST(DerivedKeys, SecretUriAndSpacesGiveTheSameKeys) {
    const std::string plain = secret_of(2);
    EXPECT_EQ(hex(derive_keys(parse_secret("  wgmesh://v1/" + plain + "?x=1 \n").value).psk),
              kKeyVectors[2].psk);
}

TEST(MeshAddress, PlainNonceAndIpv6MatchEveryVector) {
    ASSERT_GE(std::size(kAddressVectors), 60u);
    for (const auto& v : kAddressVectors) {
        SCOPED_TRACE(std::string(v.pubkey) + " secret #" + std::to_string(v.secret_index));
        const std::string secret = secret_of(v.secret_index);
        const DerivedKeys keys = derive_keys(secret);
        EXPECT_EQ(derive_mesh_ip(keys.mesh_subnet, v.pubkey, secret).to_string(), v.mesh_ip);
        for (std::uint32_t nonce = 0; nonce < 3; ++nonce) {
            EXPECT_EQ(
                derive_mesh_ip_with_nonce(keys.mesh_subnet, v.pubkey, secret, nonce).to_string(),
                v.mesh_ip_nonce[nonce]);
        }
        EXPECT_EQ(derive_mesh_ipv6(keys.mesh_prefix_v6, v.pubkey, secret).to_string(), v.mesh_ipv6);

        const MeshAddressing addressing(secret, keys);
        const wg::Key key = wg::Key::parse_or_throw(v.pubkey);
        EXPECT_EQ(addressing.mesh_ip(key).to_string(), v.mesh_ip);
        EXPECT_EQ(addressing.mesh_ip(key, 1).to_string(), v.mesh_ip_nonce[1]);
        EXPECT_EQ(addressing.mesh_ip(key, 2).to_string(), v.mesh_ip_nonce[2]);
        EXPECT_EQ(addressing.mesh_ipv6(key).to_string(), v.mesh_ipv6);
    }
}

TEST(MeshAddress, ClampedEdgesAreAmongTheVectors) {
    // The generator searched keys whose hash hits 0/255 (plain) and 0/65535 (nonce 1).
    bool saw_1 = false, saw_254 = false, saw_0_1 = false, saw_255_254 = false;
    for (const auto& v : kAddressVectors) {
        const std::string ip = v.mesh_ip;
        const std::string nonce_ip = v.mesh_ip_nonce[1];
        saw_1 = saw_1 || ip.ends_with(".1");
        saw_254 = saw_254 || ip.ends_with(".254");
        saw_0_1 = saw_0_1 || nonce_ip.ends_with(".0.1");
        saw_255_254 = saw_255_254 || nonce_ip.ends_with(".255.254");
    }
    EXPECT_TRUE(saw_1 && saw_254 && saw_0_1 && saw_255_254);
}

TEST(MeshAddress, CustomSubnetsMatchEveryVector) {
    ASSERT_GE(std::size(kSubnetVectors), 100u);
    for (const auto& v : kSubnetVectors) {
        SCOPED_TRACE(std::string(v.subnet) + " " + v.pubkey + " nonce " + std::to_string(v.nonce));
        const std::string secret = secret_of(v.secret_index);
        const auto subnet = parse_custom_mesh_subnet(v.subnet);
        const std::string got =
            v.nonce < 0 ? derive_mesh_ip_in_subnet(subnet, v.pubkey, secret).to_string()
                        : derive_mesh_ip_in_subnet_with_nonce(subnet, v.pubkey, secret,
                                                              static_cast<std::uint32_t>(v.nonce))
                              .to_string();
        EXPECT_EQ(got, v.mesh_ip);

        const MeshAddressing addressing(secret, derive_keys(secret), subnet);
        EXPECT_EQ(addressing
                      .mesh_ip(wg::Key::parse_or_throw(v.pubkey),
                               v.nonce < 0 ? 0 : static_cast<std::uint32_t>(v.nonce))
                      .to_string(),
                  v.mesh_ip);
        EXPECT_TRUE(subnet.contains(netlink::IpAddress::parse_or_throw(got)));
        EXPECT_EQ(
            addressing.interface_address(netlink::IpAddress::parse_or_throw(got)).prefix_length,
            subnet.length());
    }
}

TEST(MeshAddress, NonceTextIsLengthPrefixed) {
    EXPECT_EQ(nonce_derivation_text("abc", "0123456789abcdef", 7),
              "3:abc|16:0123456789abcdef|nonce=7");
}

TEST(MeshAddress, CustomSubnetValidation) {
    EXPECT_EQ(parse_custom_mesh_subnet("192.168.100.77/24").to_string(), "192.168.100.0/24");
    EXPECT_EQ(parse_custom_mesh_subnet("192.0.2.4/30").to_string(), "192.0.2.4/30");
    for (const char* bad : {"192.0.2.0/31", "192.0.2.1/32", "192.0.2.1", "fd00::/64", "default",
                            "10.0.0.0/33", "", "banana/8", "10.0.0.0/"}) {
        EXPECT_THROW(parse_custom_mesh_subnet(bad), std::invalid_argument) << bad;
    }
    const std::string secret = secret_of(0);
    // No fallback to the 10.x derivation when the subnet is unusable.
    EXPECT_THROW(
        derive_mesh_ip_in_subnet(netlink::Prefix::parse_or_throw("192.0.2.0/31"), "k", secret),
        std::invalid_argument);
    EXPECT_THROW(MeshAddressing(secret, derive_keys(secret),
                                netlink::Prefix::parse_or_throw("2001:db8::/64")),
                 std::invalid_argument);
}

TEST(MeshAddress, SlashThirtyUsesOnlyItsTwoHosts) {
    const std::string secret = secret_of(3);
    const auto subnet = parse_custom_mesh_subnet("192.0.2.0/30");
    for (int i = 0; i < 64; ++i) {
        const std::string key = "key-" + std::to_string(i);
        const std::string ip = derive_mesh_ip_in_subnet(subnet, key, secret).to_string();
        EXPECT_TRUE(ip == "192.0.2.1" || ip == "192.0.2.2") << ip;
    }
}

TEST(MeshAddress, DefaultAddressingUsesTheSlash16) {
    const std::string secret = secret_of(1);
    const DerivedKeys keys = derive_keys(secret);
    const MeshAddressing addressing(secret, keys);
    EXPECT_EQ(addressing.network_v4(), keys.mesh_network_v4());
    EXPECT_EQ(addressing.network_v6(), keys.mesh_network_v6());
    const auto ip = addressing.mesh_ip(wg::Key::parse_or_throw(kAddressVectors[3].pubkey));
    EXPECT_EQ(addressing.interface_address(ip).prefix_length, 16u);
    EXPECT_TRUE(keys.mesh_network_v4().contains(ip));
}

}  // namespace
}  // namespace wgmesh::mesh
