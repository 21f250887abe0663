#include "mesh/peers_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "mesh/derived_keys.h"
#include "mesh/terminal_text.h"

namespace wgmesh::mesh {
namespace {

namespace fs = std::filesystem;
using netlink::IpAddress;
using netlink::Prefix;
using netlink::SocketAddress;

constexpr const char* kSecret = "peers-file-test-secret-0123456789";
constexpr const char* kKeyA = "CGlHBOvWIl6h6U3TM30oHeUhFxbn6wGNW/kSV9dJ700=";
constexpr const char* kKeyB = "N+/8gdgFgR1Z+ZwTdrOTslUpt0gsOa2GbEl5G2LcRLs=";
constexpr const char* kKeyC = "RkDtiCN2kM0ZoM9M9QM4IeOCIOHalV7ZYZxBCBKVFyc=";

class PeersFileTest : public ::testing::Test {
  protected:
    PeersFileTest() : addressing_(kSecret, derive_keys(kSecret)) {}

    PeersFileContent parse(const std::string& text) {
        return parse_peers_file(text, addressing_, local_);
    }
    std::string error_of(const std::string& text) {
        try {
            parse(text);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    }

    MeshAddressing addressing_;
    wg::Key local_ = wg::Key::parse_or_throw(kKeyC);
};

TEST_F(PeersFileTest, ParsesAllFieldsAndDerivesMissingMeshAddresses) {
    const auto content = parse(R"([
      {"wg_pubkey": ")" + std::string(kKeyA) +
                               R"(", "endpoint": "192.0.2.1:51820",
       "hostname": "alpha", "introducer": true, "nat_type": "cone",
       "routable_networks": ["172.16.0.5/24", "default"]},
      {"wg_pubkey": ")" + std::string(kKeyB) +
                               R"(", "mesh_ip": ")" +
                               addressing_.network_v4().address().to_string() + R"("}
    ])");
    ASSERT_EQ(content.peers.size(), 2u);
    const auto& a = content.peers[0];
    const auto key_a = wg::Key::parse_or_throw(kKeyA);
    EXPECT_EQ(a.wg_pubkey, key_a);
    EXPECT_EQ(a.endpoint, SocketAddress::parse("192.0.2.1:51820"));
    EXPECT_EQ(a.hostname, "alpha");
    EXPECT_TRUE(a.introducer);
    EXPECT_EQ(a.nat_type, NatType::kCone);
    EXPECT_EQ(a.routable_networks, (std::vector<Prefix>{Prefix::parse_or_throw("172.16.0.0/24"),
                                                        Prefix::parse_or_throw("0.0.0.0/0")}));
    EXPECT_EQ(a.mesh_ip, addressing_.mesh_ip(key_a));
    EXPECT_EQ(a.mesh_ipv6, addressing_.mesh_ipv6(key_a));
    EXPECT_EQ(content.peers[1].mesh_ip, addressing_.network_v4().address());
    EXPECT_FALSE(content.skipped_self);
}

TEST_F(PeersFileTest, HonoursACustomMeshSubnet) {
    const MeshAddressing custom(kSecret, derive_keys(kSecret),
                                Prefix::parse_or_throw("100.64.0.0/24"));
    const auto content =
        parse_peers_file(R"([{"wg_pubkey": ")" + std::string(kKeyA) + R"("}])", custom, local_);
    ASSERT_EQ(content.peers.size(), 1u);
    EXPECT_TRUE(Prefix::parse_or_throw("100.64.0.0/24").contains(*content.peers[0].mesh_ip));
}

TEST_F(PeersFileTest, LeavesOutTheLocalNode) {
    const auto content = parse(R"([{"wg_pubkey": ")" + std::string(kKeyC) + R"("},
                                   {"wg_pubkey": ")" +
                               std::string(kKeyA) + R"("}])");
    EXPECT_TRUE(content.skipped_self);
    ASSERT_EQ(content.peers.size(), 1u);
}

TEST_F(PeersFileTest, EmptyListIsValid) {
    EXPECT_TRUE(parse("[]").peers.empty());
}

TEST_F(PeersFileTest, RejectsHostileAndMalformedInputWithAReason) {
    const std::string a = kKeyA;
    const struct {
        std::string text;
        std::string reason;
    } cases[] = {
        {"", "JSON"},
        {"{}", "list"},
        {"[1]", "not a JSON object"},
        {R"([{"endpoint": "192.0.2.1:1"}])", "wg_pubkey"},
        {R"([{"wg_pubkey": 5}])", "wg_pubkey"},
        {R"([{"wg_pubkey": "bad"}])", "peer 1: wg_pubkey is not a base64 WireGuard key"},
        {R"([{"wg_pubkey": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}])", "wg_pubkey"},
        {R"([{"wg_pubkey": ")" + a + R"(", "endpoint": "nohost"}])",
         "endpoint is not an IP:port address"},
        {R"([{"wg_pubkey": ")" + a + R"(", "endpoint": "192.0.2.1:0"}])", "endpoint"},
        {R"([{"wg_pubkey": ")" + a + R"(", "mesh_ip": "fd00::1"}])",
         "mesh_ip is not an IPv4 address"},
        {R"([{"wg_pubkey": ")" + a + R"(", "mesh_ip": "192.0.2.1"}])", "outside the mesh"},
        {R"([{"wg_pubkey": ")" + a + R"(", "mesh_ipv6": "10.0.0.1"}])",
         "mesh_ipv6 is not an IPv6 address"},
        {R"([{"wg_pubkey": ")" + a + R"(", "routable_networks": "10.0.0.0/8"}])",
         "routable_networks is not a list"},
        {R"([{"wg_pubkey": ")" + a + R"(", "routable_networks": ["10.0.0.0/8", "10.0.0.0/33"]}])",
         "routable_networks[1] is not a CIDR"},
        {R"([{"wg_pubkey": ")" + a + R"(", "introducer": "yes"}])",
         "introducer is not true or false"},
        {R"([{"wg_pubkey": ")" + a + R"(", "nat_type": "full-cone"}])", "nat_type"},
        {R"([{"wg_pubkey": ")" + a + R"(", "endpiont": "192.0.2.1:1"}])", "unknown field"},
        {R"([{"wg_pubkey": ")" + a + R"(", "x\u001b[2J": 1}])", "unknown field \"x\\x1b[2J\""},
        {R"([{"wg_pubkey": ")" + a + R"("}, {"wg_pubkey": ")" + a + R"("}])", "appears twice"},
        {std::string(100000, '['), "nested"},
        {"[\"\xff\"]", "JSON"},
    };
    for (const auto& c : cases) {
        const auto error = error_of(c.text);
        EXPECT_NE(error.find(c.reason), std::string::npos)
            << "input " << c.text.substr(0, 80) << " gave '" << error << "'";
        EXPECT_TRUE(is_valid_utf8(error) && error.find('\x1b') == std::string::npos)
            << "error text echoes raw bytes: " << terminal_safe(error);
    }
}

TEST_F(PeersFileTest, AnyUtf8HostnameIsKeptAndAnInvalidOneDroppedWithTheReason) {
    const std::string a = kKeyA;
    const std::string b = kKeyB;
    const auto content =
        parse(R"([{"wg_pubkey": ")" + a + R"(", "hostname": "Büro-Router 路由器 🚀"},
                                   {"wg_pubkey": ")" +
              b + R"(", "hostname": "a\u0001b"}])");
    ASSERT_EQ(content.peers.size(), 2u) << "a hostname never costs the peer";
    EXPECT_EQ(content.peers[0].hostname, "Büro-Router 路由器 🚀");
    EXPECT_TRUE(content.peers[1].hostname.empty());
    ASSERT_EQ(content.notes.size(), 1u);
    EXPECT_NE(content.notes[0].find("peer 2 (" + b + "): hostname dropped"), std::string::npos)
        << content.notes[0];
    EXPECT_NE(content.notes[0].find("U+0001"), std::string::npos) << content.notes[0];
}

TEST_F(PeersFileTest, NatTypeUnknownIsKeptAndAnUnknownWordIsATypo) {
    const std::string a = kKeyA;
    const auto content = parse(R"([{"wg_pubkey": ")" + a + R"(", "nat_type": "unknown"}])");
    ASSERT_EQ(content.peers.size(), 1u);
    EXPECT_EQ(content.peers[0].nat_type, NatType::kUnknown);
    EXPECT_EQ(parse(R"([{"wg_pubkey": ")" + a + R"("}])").peers[0].nat_type, NatType::kNotReported);
    EXPECT_NE(error_of(R"([{"wg_pubkey": ")" + a + R"(", "nat_type": "cnoe"}])").find("nat_type"),
              std::string::npos);
}

TEST_F(PeersFileTest, RejectsMoreThanTheStoreCanHold) {
    auto list = nlohmann::json::array();
    for (std::size_t i = 0; i <= kMaxPeers; ++i) {
        list.push_back({{"wg_pubkey", wg::Key::generate_private().public_key().to_base64()}});
    }
    EXPECT_NE(error_of(list.dump()).find("more than"), std::string::npos);
}

class PeersFileSourceTest : public PeersFileTest {
  protected:
    PeersFileSourceTest()
        : path_(fs::temp_directory_path() /
                ("wgmesh-peers-file-" + std::to_string(::getpid()) + ".json")) {}
    ~PeersFileSourceTest() override { fs::remove(path_); }

    void write(const std::string& text) { std::ofstream(path_) << text; }
    // "[<entry>,...]", appended piecewise: GCC 12 at -O3 reports a false -Wrestrict for
    // `"[" + std::string&&`.
    static std::string list_of(std::initializer_list<std::string> entries) {
        std::string list(1, '[');
        for (const auto& entry : entries) {
            if (list.size() > 1) {
                list += ',';
            }
            list += entry;
        }
        list += ']';
        return list;
    }
    static std::string entry(const char* key, const char* endpoint) {
        return R"({"wg_pubkey": ")" + std::string(key) + R"(", "endpoint": ")" + endpoint + "\"}";
    }

    fs::path path_;
    PeerStore store_;
};

TEST_F(PeersFileSourceTest, ReloadAddsRemovesAndKeepsTheLastGoodSet) {
    PeersFileSource source(path_, store_, addressing_, local_);
    const auto key_a = wg::Key::parse_or_throw(kKeyA);
    const auto key_b = wg::Key::parse_or_throw(kKeyB);

    write(list_of({entry(kKeyA, "192.0.2.1:1"), entry(kKeyB, "192.0.2.2:2")}));
    auto result = source.reload();
    ASSERT_TRUE(result.ok) << result.error;
    EXPECT_EQ(result.peers, 2u);
    EXPECT_EQ(store_.size(), 2u);
    EXPECT_TRUE(store_.get(key_a)->discovered_via.contains("static"));

    // A bad file changes nothing and says why.
    write("[{\"wg_pubkey\": \"oops\"}]");
    result = source.reload();
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("wg_pubkey is not a base64 WireGuard key"), std::string::npos);
    EXPECT_NE(result.error.find("keeping the last good set of 2"), std::string::npos);
    EXPECT_EQ(store_.size(), 2u);
    EXPECT_EQ(source.keys().size(), 2u);

    // B leaves the file and the store.
    write(list_of({entry(kKeyA, "192.0.2.1:1")}));
    result = source.reload();
    ASSERT_TRUE(result.ok);
    EXPECT_EQ(result.removed, 1u);
    EXPECT_FALSE(store_.get(key_b));
    EXPECT_TRUE(store_.get(key_a));
}

TEST_F(PeersFileSourceTest, PeersKnownFromAnotherSourceStayWhenTheyLeaveTheFile) {
    PeersFileSource source(path_, store_, addressing_, local_);
    const auto key_a = wg::Key::parse_or_throw(kKeyA);
    write(list_of({entry(kKeyA, "192.0.2.1:1")}));
    ASSERT_TRUE(source.reload().ok);
    Peer also;
    also.wg_pubkey = key_a;
    ASSERT_TRUE(store_.update(also, "control").accepted());
    write("[]");
    const auto result = source.reload();
    ASSERT_TRUE(result.ok);
    EXPECT_EQ(result.removed, 0u);
    EXPECT_TRUE(store_.get(key_a));
}

TEST_F(PeersFileSourceTest, CachedPeersNotInTheFileAreNotTouched) {
    PeersFileSource source(path_, store_, addressing_, local_);
    Peer cached;
    cached.wg_pubkey = wg::Key::parse_or_throw(kKeyB);
    cached.last_seen = Clock::now();
    ASSERT_TRUE(store_.update(cached, "cache").accepted());
    write(list_of({entry(kKeyA, "192.0.2.1:1")}));
    ASSERT_TRUE(source.reload().ok);
    write("[]");
    ASSERT_TRUE(source.reload().ok);
    EXPECT_TRUE(store_.get(cached.wg_pubkey));
}

TEST_F(PeersFileSourceTest, MissingFileIsAnErrorThatKeepsTheStore) {
    PeersFileSource source(path_ / "missing", store_, addressing_, local_);
    const auto result = source.reload();
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("cannot open"), std::string::npos);
}

TEST_F(PeersFileSourceTest, RefreshKeepsStaticPeersActive) {
    const auto start = Clock::now();
    auto now = start;
    PeerStore store([&now] { return now; });
    PeersFileSource source(path_, store, addressing_, local_);
    write(list_of({entry(kKeyA, "192.0.2.1:1")}));
    ASSERT_TRUE(source.reload().ok);
    now = start + std::chrono::minutes(9);
    source.refresh();
    now = start + std::chrono::minutes(12);
    EXPECT_TRUE(store.remove_stale().empty());
    EXPECT_EQ(store.active().size(), 1u);
}

}  // namespace
}  // namespace wgmesh::mesh
