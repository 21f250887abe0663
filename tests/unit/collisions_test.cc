// Mesh IP collisions: detection, tie-breaking, the local loser's one address move through the
// AddressSet, nonce persistence across restarts, remote expectations and log-once.
#include "mesh/collisions.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "mesh/derived_keys.h"
#include "mesh/nonce_file.h"

namespace wgmesh::mesh {
namespace {

using netlink::InterfaceAddress;
using netlink::IpAddress;

const std::string kSecret = "collision-test-secret-0123456789";

wg::Key key_from_byte(std::uint8_t first, std::uint8_t fill = 7) {
    std::array<std::uint8_t, 32> bytes{};
    bytes.fill(fill);
    bytes[0] = first;
    return wg::Key(bytes);
}

// Two keys in base64 order: low wins against high.
std::pair<wg::Key, wg::Key> ordered_keys() {
    wg::Key a = key_from_byte(0x10), b = key_from_byte(0x90);
    return wins_collision(a, b) ? std::pair{a, b} : std::pair{b, a};
}

IpAddress ip(const char* text) {
    return IpAddress::parse_or_throw(text);
}

struct ReplaceCall {
    std::optional<InterfaceAddress> previous;
    InterfaceAddress replacement;
};

class FakeAddressSet : public netlink::AddressSet {
  public:
    std::vector<InterfaceAddress> list() override { return current; }
    void replace(const std::optional<InterfaceAddress>& previous,
                 const InterfaceAddress& replacement) override {
        if (failures_left > 0) {
            --failures_left;
            throw std::runtime_error("Operation not permitted");
        }
        calls.push_back({previous, replacement});
        std::erase(current, previous.value_or(replacement));
        current.push_back(replacement);
    }
    std::vector<InterfaceAddress> current;
    std::vector<ReplaceCall> calls;
    int failures_left = 0;
};

class TempDir {
  public:
    TempDir() {
        std::string pattern = "/tmp/wgmesh-collisions-XXXXXX";
        path_ = ::mkdtemp(pattern.data());
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

class CollisionResolverTest : public ::testing::Test {
  protected:
    MeshAddressing addressing(std::optional<netlink::Prefix> subnet = std::nullopt) const {
        return MeshAddressing(kSecret, derive_keys(kSecret), subnet);
    }
    std::unique_ptr<CollisionResolver> make(const wg::Key& local,
                                            std::optional<netlink::Prefix> subnet = std::nullopt) {
        return std::make_unique<CollisionResolver>(
            local, addressing(subnet), addresses, nonce_path,
            [this](std::string_view line) { log.emplace_back(line); });
    }
    static Peer peer(const wg::Key& key, IpAddress mesh_ip) {
        Peer p;
        p.wg_pubkey = key;
        p.mesh_ip = mesh_ip;
        return p;
    }
    std::size_t log_lines_containing(std::string_view text) const {
        return std::count_if(log.begin(), log.end(), [&](const std::string& line) {
            return line.find(text) != std::string::npos;
        });
    }

    TempDir dir;
    std::filesystem::path nonce_path = nonce_file_path(dir.path() / "state", "wg0");
    FakeAddressSet addresses;
    std::vector<std::string> log;
};

TEST(FindCollisions, LowerBase64KeyWinsInBothArgumentOrders) {
    const auto [low, high] = ordered_keys();
    const std::vector<MeshIpClaim> forward = {{low, ip("10.1.2.3")}, {high, ip("10.1.2.3")}};
    const std::vector<MeshIpClaim> backward = {{high, ip("10.1.2.3")}, {low, ip("10.1.2.3")}};
    for (const auto& claims : {forward, backward}) {
        const auto found = find_collisions(claims);
        ASSERT_EQ(found.size(), 1u);
        EXPECT_EQ(found[0].mesh_ip, ip("10.1.2.3"));
        EXPECT_EQ(found[0].winner, low);
        ASSERT_EQ(found[0].losers.size(), 1u);
        EXPECT_EQ(found[0].losers[0], high);
    }
}

TEST(FindCollisions, OrderIsTheBase64TextNotTheRawBytes) {
    // Raw 0x00... sorts before 0xfc..., but its base64 starts with 'A' and 0xfc's with '/'.
    const wg::Key raw_low = key_from_byte(0x00), raw_high = key_from_byte(0xfc);
    ASSERT_LT(raw_high.to_base64(), raw_low.to_base64());
    EXPECT_TRUE(wins_collision(raw_high, raw_low));
    const std::vector<MeshIpClaim> claims = {{raw_low, ip("10.9.9.9")}, {raw_high, ip("10.9.9.9")}};
    EXPECT_EQ(find_collisions(claims).at(0).winner, raw_high);
}

TEST(FindCollisions, RepeatedClaimsOfOneKeyAreNotCollisions) {
    const auto [low, high] = ordered_keys();
    const std::vector<MeshIpClaim> claims = {
        {low, ip("10.1.1.1")}, {low, ip("10.1.1.1")}, {high, ip("10.1.1.2")}};
    EXPECT_TRUE(find_collisions(claims).empty());
    EXPECT_TRUE(find_collisions({}).empty());
}

TEST(FindCollisions, ThreeWayCollisionHasOneWinnerAndSortedLosers) {
    std::vector<wg::Key> keys = {key_from_byte(0x41), key_from_byte(0x02), key_from_byte(0xc3)};
    std::vector<MeshIpClaim> claims;
    for (const auto& k : keys) {
        claims.push_back({k, ip("10.5.5.5")});
    }
    claims.push_back({keys[0], ip("10.5.5.6")});
    std::sort(keys.begin(), keys.end());  // Key orders by base64 text
    const auto found = find_collisions(claims);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].winner, keys[0]);
    EXPECT_EQ(found[0].losers, (std::vector<wg::Key>{keys[1], keys[2]}));
}

TEST(FindCollisions, ScansAThousandPeers) {
    std::vector<MeshIpClaim> claims;
    for (unsigned i = 0; i < 1000; ++i) {
        std::array<std::uint8_t, 32> bytes{};
        bytes[0] = static_cast<std::uint8_t>(i >> 8);
        bytes[1] = static_cast<std::uint8_t>(i);
        // Every 100th peer shares its address with the previous one.
        const unsigned host = (i % 100 == 99) ? i - 1 : i;
        claims.push_back({wg::Key(bytes), IpAddress::v4(10, 7, static_cast<std::uint8_t>(host >> 8),
                                                        static_cast<std::uint8_t>(host))});
    }
    const auto found = find_collisions(claims);
    EXPECT_EQ(found.size(), 10u);
    EXPECT_TRUE(std::is_sorted(found.begin(), found.end(),
                               [](const auto& a, const auto& b) { return a.mesh_ip < b.mesh_ip; }));
}

TEST_F(CollisionResolverTest, LocalLoserReplacesItsAddressExactlyOnce) {
    const auto [winner, local] = ordered_keys();
    auto resolver = make(local);
    const IpAddress plain = addressing().mesh_ip(local);
    const IpAddress moved = addressing().mesh_ip(local, 1);
    ASSERT_EQ(resolver->local_mesh_ip(), plain);
    // The store still lists the winner on the contested address, and our own stale entry.
    const std::vector<Peer> peers = {peer(winner, plain), peer(local, plain)};
    for (int cycle = 0; cycle < 20; ++cycle) {
        const auto outcome = resolver->resolve(peers);
        EXPECT_TRUE(outcome.errors.empty());
        EXPECT_EQ(outcome.local_address_changed.has_value(), cycle == 0);
    }
    ASSERT_EQ(addresses.calls.size(), 1u);
    EXPECT_EQ(addresses.calls[0].previous, (InterfaceAddress{plain, 16}));
    EXPECT_EQ(addresses.calls[0].replacement, (InterfaceAddress{moved, 16}));
    EXPECT_EQ(resolver->local_nonce(), 1u);
    EXPECT_EQ(resolver->local_address(), (InterfaceAddress{moved, 16}));
    EXPECT_EQ(log_lines_containing("collision on " + plain.to_string()), 1u);
    EXPECT_EQ(log_lines_containing("address moved"), 1u);
}

TEST_F(CollisionResolverTest, PersistedNonceSurvivesARestart) {
    const auto [winner, local] = ordered_keys();
    make(local)->resolve(std::vector<Peer>{peer(winner, addressing().mesh_ip(local))});
    const auto stored = read_nonce_file(nonce_path);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->nonce, 1u);
    EXPECT_EQ(stored->public_key, local);
    EXPECT_EQ(stored->mesh_ip, addressing().mesh_ip(local, 1));
    struct stat st {};
    ASSERT_EQ(::stat(nonce_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(nonce_path.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    auto restarted = make(local);
    EXPECT_EQ(restarted->local_nonce(), 0u);
    EXPECT_EQ(restarted->load_persisted_nonce(), 1u);
    EXPECT_EQ(restarted->local_mesh_ip(), addressing().mesh_ip(local, 1));
    // With the winner still there, the restarted node does not move again.
    restarted->resolve(std::vector<Peer>{peer(winner, addressing().mesh_ip(local))});
    EXPECT_EQ(addresses.calls.size(), 1u);
}

TEST_F(CollisionResolverTest, ForeignStaleOrCorruptNonceFilesAreIgnored) {
    const auto [other, local] = ordered_keys();
    auto resolver = make(local);
    EXPECT_EQ(resolver->load_persisted_nonce(), 0u);  // no file: silently nonce 0
    EXPECT_TRUE(log.empty());

    write_nonce_file(nonce_path, {other, 1, addressing().mesh_ip(other, 1)});
    EXPECT_EQ(make(local)->load_persisted_nonce(), 0u);
    write_nonce_file(nonce_path, {local, 1, ip("10.99.99.99")});  // another secret's address
    EXPECT_EQ(make(local)->load_persisted_nonce(), 0u);
    { std::ofstream(nonce_path) << "{\"nonce\": \"one\""; }
    auto corrupt = make(local);
    EXPECT_EQ(corrupt->load_persisted_nonce(), 0u);
    EXPECT_EQ(corrupt->local_mesh_ip(), addressing().mesh_ip(local));
    EXPECT_EQ(log_lines_containing("ignoring the collision nonce"), 3u);
}

TEST_F(CollisionResolverTest, RemoteLoserGetsAnExpectedAddressUntilItMoves) {
    const auto [local, remote] = ordered_keys();
    auto resolver = make(local);
    const IpAddress contested = resolver->local_mesh_ip();
    for (int cycle = 0; cycle < 5; ++cycle) {
        const auto outcome = resolver->resolve(std::vector<Peer>{peer(remote, contested)});
        ASSERT_EQ(outcome.collisions.size(), 1u);
        EXPECT_EQ(outcome.collisions[0].winner, local);
    }
    EXPECT_TRUE(addresses.calls.empty());
    EXPECT_EQ(resolver->expected_mesh_ip(remote), addressing().mesh_ip(remote, 1));
    EXPECT_EQ(resolver->expected_mesh_ips().size(), 1u);
    EXPECT_EQ(log_lines_containing("collision on"), 1u);

    // The peer reports its new address itself: the expectation is dropped.
    resolver->resolve(std::vector<Peer>{peer(remote, addressing().mesh_ip(remote, 1))});
    EXPECT_FALSE(resolver->expected_mesh_ip(remote));
    EXPECT_TRUE(resolver->expected_mesh_ips().empty());
}

TEST_F(CollisionResolverTest, RemoteLoserOnItsNonceAddressIsExpectedOneFurther) {
    wg::Key local = key_from_byte(0xaa, 1);
    std::vector<wg::Key> remotes = {key_from_byte(0x11, 2), key_from_byte(0x22, 3)};
    std::sort(remotes.begin(), remotes.end());
    auto resolver = make(local);
    const IpAddress taken = addressing().mesh_ip(remotes[1], 1);
    resolver->resolve(std::vector<Peer>{peer(remotes[0], taken), peer(remotes[1], taken)});
    EXPECT_EQ(resolver->expected_mesh_ip(remotes[1]), addressing().mesh_ip(remotes[1], 2));
    EXPECT_FALSE(resolver->expected_mesh_ip(remotes[0]));
}

TEST_F(CollisionResolverTest, LosingAgainMovesToTheNextNonce) {
    const auto [winner, local] = ordered_keys();
    auto resolver = make(local);
    resolver->resolve(std::vector<Peer>{peer(winner, addressing().mesh_ip(local))});
    resolver->resolve(std::vector<Peer>{peer(winner, addressing().mesh_ip(local, 1))});
    ASSERT_EQ(addresses.calls.size(), 2u);
    EXPECT_EQ(resolver->local_nonce(), 2u);
    EXPECT_EQ(resolver->local_mesh_ip(), addressing().mesh_ip(local, 2));
    EXPECT_EQ(read_nonce_file(nonce_path)->nonce, 2u);
}

TEST_F(CollisionResolverTest, CustomSubnetLoserStaysInItsSubnet) {
    const auto subnet = parse_custom_mesh_subnet("192.168.100.0/24");
    const auto [winner, local] = ordered_keys();
    auto resolver = make(local, subnet);
    const IpAddress plain = addressing(subnet).mesh_ip(local);
    EXPECT_TRUE(subnet.contains(plain));
    resolver->resolve(std::vector<Peer>{peer(winner, plain)});
    ASSERT_EQ(addresses.calls.size(), 1u);
    const IpAddress moved =
        derive_mesh_ip_in_subnet_with_nonce(subnet, local.to_base64(), kSecret, 1);
    EXPECT_EQ(addresses.calls[0].replacement, (InterfaceAddress{moved, 24}));
    EXPECT_EQ(addresses.calls[0].previous, (InterfaceAddress{plain, 24}));
    EXPECT_TRUE(subnet.contains(moved));
}

TEST_F(CollisionResolverTest, FailedReplacementIsRetriedNextCycle) {
    const auto [winner, local] = ordered_keys();
    auto resolver = make(local);
    addresses.failures_left = 1;
    const std::vector<Peer> peers = {peer(winner, addressing().mesh_ip(local))};
    auto first = resolver->resolve(peers);
    ASSERT_EQ(first.errors.size(), 1u);
    EXPECT_NE(first.errors[0].find("Operation not permitted"), std::string::npos);
    EXPECT_EQ(resolver->local_nonce(), 0u);
    auto second = resolver->resolve(peers);
    EXPECT_TRUE(second.errors.empty());
    EXPECT_TRUE(second.local_address_changed);
    resolver->resolve(peers);
    EXPECT_EQ(addresses.calls.size(), 1u);
    EXPECT_EQ(resolver->local_nonce(), 1u);
    EXPECT_EQ(log_lines_containing("collision on"), 1u);
}

TEST_F(CollisionResolverTest, CollisionIsLoggedAgainOnlyAfterItWentAway) {
    const auto [local, remote] = ordered_keys();
    auto resolver = make(local);
    const std::vector<Peer> colliding = {peer(remote, resolver->local_mesh_ip())};
    const std::vector<Peer> clear = {peer(remote, ip("10.200.200.200"))};
    for (int i = 0; i < 3; ++i) {
        resolver->resolve(colliding);
    }
    resolver->resolve(clear);
    resolver->resolve(colliding);
    resolver->resolve(colliding);
    EXPECT_EQ(log_lines_containing("collision on"), 2u);
}

TEST(NonceFile, RejectsHostileContent) {
    TempDir dir;
    const auto path = dir.path() / "x.nonce";
    EXPECT_FALSE(read_nonce_file(path));
    for (const std::string& bad :
         {std::string("[]"),
          std::string("{\"wg_pubkey\":\"AAAA\",\"nonce\":1,\"mesh_ip\":\"10.0.0.1\"}"),
          std::string("{\"wg_pubkey\":\"") + key_from_byte(1).to_base64() +
              "\",\"nonce\":-1,\"mesh_ip\":\"10.0.0.1\"}",
          std::string("{\"wg_pubkey\":\"") + key_from_byte(1).to_base64() +
              "\",\"nonce\":99999999999,\"mesh_ip\":\"10.0.0.1\"}",
          std::string(5000, '{'), std::string("\xff\xfe", 2)}) {
        std::ofstream(path, std::ios::trunc) << bad;
        EXPECT_THROW(read_nonce_file(path), std::runtime_error) << bad.substr(0, 40);
    }
}

}  // namespace
}  // namespace wgmesh::mesh
