#include "wg/config_diff.h"

#include <gtest/gtest.h>

namespace wgmesh::wg {
namespace {

using netlink::Prefix;
using netlink::SocketAddress;

Key key_of(std::uint8_t seed) {
    std::array<std::uint8_t, Key::kSize> bytes{};
    bytes.fill(seed);
    return Key(bytes);
}

PeerConfig peer(std::uint8_t seed, std::vector<std::string> ips = {}) {
    PeerConfig p;
    p.public_key = key_of(seed);
    for (const auto& ip : ips)
        p.allowed_ips.push_back(Prefix::parse_or_throw(ip));
    return p;
}

DeviceConfig full_device() {
    DeviceConfig d;
    d.private_key = key_of(0x40);
    d.listen_port = 51820;
    d.fwmark = 7;
    auto a = peer(1, {"10.0.0.1/32", "192.168.1.0/24"});
    a.endpoint = SocketAddress::parse("192.0.2.1:51820");
    a.persistent_keepalive = 25;
    a.preshared_key = key_of(0x99);
    d.peers.push_back(a);
    d.peers.push_back(peer(2, {"10.0.0.2/32"}));
    return d;
}

TEST(ConfigDiff, UnchangedConfigGivesEmptyUpdate) {
    const DeviceConfig d = full_device();
    EXPECT_TRUE(compute_device_update(d, d).empty());
    // Allowed IPs are a set: order and duplicates do not matter.
    DeviceConfig shuffled = d;
    std::swap(shuffled.peers[0].allowed_ips[0], shuffled.peers[0].allowed_ips[1]);
    shuffled.peers[0].allowed_ips.push_back(shuffled.peers[0].allowed_ips[0]);
    std::swap(shuffled.peers[0], shuffled.peers[1]);
    EXPECT_TRUE(compute_device_update(d, shuffled).empty());
    // Read-only counters are not configuration.
    DeviceConfig live = d;
    live.peers[0].rx_bytes = 1234;
    live.peers[0].last_handshake_unix = 1700000000;
    EXPECT_TRUE(compute_device_update(live, d).empty());
}

TEST(ConfigDiff, EmptyDeviceGetsEverything) {
    const DeviceConfig desired = full_device();
    const DeviceUpdate u = compute_device_update(DeviceConfig{}, desired);
    EXPECT_EQ(u.private_key, desired.private_key);
    EXPECT_EQ(u.listen_port, 51820);
    EXPECT_EQ(u.fwmark, 7u);
    ASSERT_EQ(u.peers.size(), 2u);
    const PeerUpdate& a = u.peers[0];
    EXPECT_EQ(a.public_key, key_of(1));
    EXPECT_FALSE(a.remove);
    EXPECT_EQ(a.preshared_key, key_of(0x99));
    EXPECT_EQ(a.endpoint, SocketAddress::parse("192.0.2.1:51820"));
    EXPECT_EQ(a.persistent_keepalive, 25);
    EXPECT_FALSE(a.replace_allowed_ips);
    EXPECT_EQ(a.allowed_ips, (std::vector<Prefix>{Prefix::parse_or_throw("10.0.0.1/32"),
                                                  Prefix::parse_or_throw("192.168.1.0/24")}));
    // A new peer without PSK, endpoint or keepalive sends none of them.
    const PeerUpdate& b = u.peers[1];
    EXPECT_FALSE(b.preshared_key);
    EXPECT_FALSE(b.endpoint);
    EXPECT_FALSE(b.persistent_keepalive);
}

TEST(ConfigDiff, DeviceFieldsOnlyWhenDifferent) {
    const DeviceConfig current = full_device();
    DeviceConfig desired = current;
    desired.listen_port = 51821;
    DeviceUpdate u = compute_device_update(current, desired);
    EXPECT_EQ(u.listen_port, 51821);
    EXPECT_FALSE(u.private_key);
    EXPECT_FALSE(u.fwmark);
    EXPECT_TRUE(u.peers.empty());

    desired = current;
    desired.private_key.reset();  // "keep the device's"
    desired.listen_port.reset();
    EXPECT_TRUE(compute_device_update(current, desired).empty());

    desired = current;
    desired.fwmark = 0;
    desired.private_key = key_of(0x41);
    u = compute_device_update(current, desired);
    EXPECT_EQ(u.fwmark, 0u);
    EXPECT_EQ(u.private_key, key_of(0x41));
}

TEST(ConfigDiff, RemovedPeersComeFirstAndCarryOnlyTheKey) {
    const DeviceConfig current = full_device();
    DeviceConfig desired = current;
    desired.peers.erase(desired.peers.begin());
    desired.peers.push_back(peer(3, {"10.0.0.3/32"}));
    const DeviceUpdate u = compute_device_update(current, desired);
    ASSERT_EQ(u.peers.size(), 2u);
    PeerUpdate removal;
    removal.public_key = key_of(1);
    removal.remove = true;
    EXPECT_EQ(u.peers[0], removal);
    EXPECT_EQ(u.peers[1].public_key, key_of(3));
    EXPECT_FALSE(u.peers[1].remove);
}

TEST(ConfigDiff, ChangedPeerCarriesOnlyChangedFields) {
    const DeviceConfig current = full_device();
    DeviceConfig desired = current;
    desired.peers[0].persistent_keepalive = 10;
    DeviceUpdate u = compute_device_update(current, desired);
    ASSERT_EQ(u.peers.size(), 1u);
    PeerUpdate expected;
    expected.public_key = key_of(1);
    expected.persistent_keepalive = 10;
    EXPECT_EQ(u.peers[0], expected);

    desired = current;
    desired.peers[0].endpoint = SocketAddress::parse("[2001:db8::1]:4000");
    u = compute_device_update(current, desired);
    ASSERT_EQ(u.peers.size(), 1u);
    expected = PeerUpdate{};
    expected.public_key = key_of(1);
    expected.endpoint = SocketAddress::parse("[2001:db8::1]:4000");
    EXPECT_EQ(u.peers[0], expected);
}

TEST(ConfigDiff, AllowedIpsReplacedAsAWholeWhenTheSetDiffers) {
    const DeviceConfig current = full_device();
    DeviceConfig desired = current;
    desired.peers[0].allowed_ips = {Prefix::parse_or_throw("10.9.0.0/16"),
                                    Prefix::parse_or_throw("10.0.0.1/32")};
    const DeviceUpdate u = compute_device_update(current, desired);
    ASSERT_EQ(u.peers.size(), 1u);
    EXPECT_TRUE(u.peers[0].replace_allowed_ips);
    EXPECT_EQ(u.peers[0].allowed_ips, (std::vector<Prefix>{Prefix::parse_or_throw("10.0.0.1/32"),
                                                           Prefix::parse_or_throw("10.9.0.0/16")}));
    EXPECT_FALSE(u.peers[0].preshared_key);
    EXPECT_FALSE(u.peers[0].endpoint);
    EXPECT_FALSE(u.peers[0].persistent_keepalive);

    // Emptying the set replaces it with nothing.
    desired.peers[0].allowed_ips.clear();
    const DeviceUpdate cleared = compute_device_update(current, desired);
    ASSERT_EQ(cleared.peers.size(), 1u);
    EXPECT_TRUE(cleared.peers[0].replace_allowed_ips);
    EXPECT_TRUE(cleared.peers[0].allowed_ips.empty());
}

TEST(ConfigDiff, DisappearedPskAndKeepaliveAreZeroed) {
    const DeviceConfig current = full_device();
    DeviceConfig desired = current;
    desired.peers[0].preshared_key.reset();
    desired.peers[0].persistent_keepalive = 0;
    const DeviceUpdate u = compute_device_update(current, desired);
    ASSERT_EQ(u.peers.size(), 1u);
    ASSERT_TRUE(u.peers[0].preshared_key);
    EXPECT_TRUE(u.peers[0].preshared_key->is_zero());
    EXPECT_EQ(u.peers[0].persistent_keepalive, 0);
    // An all-zero PSK is "no PSK", as the device reports it.
    DeviceConfig zero_psk = desired;
    zero_psk.peers[0].preshared_key = Key{};
    EXPECT_TRUE(compute_device_update(zero_psk, desired).empty());
}

TEST(ConfigDiff, MissingDesiredEndpointKeepsTheLearnedOne) {
    const DeviceConfig current = full_device();
    DeviceConfig desired = current;
    desired.peers[0].endpoint.reset();
    EXPECT_TRUE(compute_device_update(current, desired).empty());
}

TEST(ConfigDiff, OwnPublicKeyIsSkippedAndDuplicatesRejected) {
    DeviceConfig desired = full_device();
    PeerConfig self;
    self.public_key = desired.private_key->public_key();
    desired.peers.push_back(self);
    const DeviceUpdate u = compute_device_update(full_device(), desired);
    EXPECT_TRUE(u.empty());

    desired = full_device();
    desired.peers.push_back(desired.peers[0]);
    EXPECT_THROW(compute_device_update(DeviceConfig{}, desired), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::wg
