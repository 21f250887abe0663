// `wgmesh cache show` through the real binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mesh/peer_cache.h"
#include "mesh/terminal_text.h"
#include "tests/support/process.h"

namespace wgmesh::mesh {
namespace {

namespace fs = std::filesystem;
using test::run_command;

constexpr const char* kKeyA = "CGlHBOvWIl6h6U3TM30oHeUhFxbn6wGNW/kSV9dJ700=";

class CacheCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/wgmesh-cache-cli-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    test::CommandResult show(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{WGMESH_BINARY, "cache",       "show",       "--interface",
                                      "wg0",         "--state-dir", dir_.string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_command(argv);
    }

    void write_cache() {
        Peer p;
        p.wg_pubkey = wg::Key::parse_or_throw(kKeyA);
        p.hostname = "alpha";
        p.mesh_ip = netlink::IpAddress::v4(10, 42, 3, 4);
        p.endpoint = netlink::SocketAddress::parse("192.0.2.9:51820");
        p.routable_networks = {*netlink::Prefix::parse("192.168.7.0/24")};
        p.last_seen = Clock::time_point(std::chrono::seconds(1'700'000'000));
        PeerCache(dir_, "wg0").save({p}, Clock::time_point(std::chrono::seconds(1'700'000'100)));
    }

    fs::path dir_;
};

TEST_F(CacheCliTest, HelpExitsZero) {
    auto r = run_command({WGMESH_BINARY, "cache", "show", "--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Usage: wgmesh cache show"), std::string::npos);
    EXPECT_EQ(run_command({WGMESH_BINARY, "cache", "--help"}).exit_code, 0);
}

TEST_F(CacheCliTest, MissingCacheSaysSoAndExitsZero) {
    auto r = show();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("no peer cache at " + (dir_ / "wg0-peers.json").string()),
              std::string::npos);
    auto j = show({"--json"});
    EXPECT_EQ(j.exit_code, 0);
    EXPECT_TRUE(nlohmann::json::parse(j.out)["peers"].empty());
}

TEST_F(CacheCliTest, ShowsTheTable) {
    write_cache();
    auto r = show();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("1 peer"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(kKeyA), std::string::npos);
    EXPECT_NE(r.out.find("10.42.3.4"), std::string::npos);
    EXPECT_NE(r.out.find("192.0.2.9:51820"), std::string::npos);
    EXPECT_NE(r.out.find("alpha"), std::string::npos);
    EXPECT_NE(r.out.find("2023-11-14 22:13:20"), std::string::npos);
    EXPECT_NE(r.out.find("networks=192.168.7.0/24"), std::string::npos);
}

TEST_F(CacheCliTest, JsonIsTheFileSchema) {
    write_cache();
    auto r = show({"--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc["version"], 1);
    EXPECT_EQ(doc["updated_at"], 1'700'000'100);
    ASSERT_EQ(doc["peers"].size(), 1u);
    EXPECT_EQ(doc["peers"][0]["wg_pubkey"], kKeyA);
    EXPECT_EQ(doc["peers"][0]["last_seen"], 1'700'000'000);
    EXPECT_EQ(doc["peers"][0]["routable_networks"], nlohmann::json({"192.168.7.0/24"}));
}

TEST_F(CacheCliTest, CorruptCacheIsAnErrorAndIsLeftInPlace) {
    const fs::path file = dir_ / "wg0-peers.json";
    { std::ofstream(file) << "{\"peers\": [tru"; }
    auto r = show();
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(file.string()), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(file)) << "the CLI is read-only";
    EXPECT_FALSE(fs::exists(file.string() + ".corrupt"));
    EXPECT_EQ(show({"--json"}).exit_code, 1);
}

TEST_F(CacheCliTest, InvalidEntriesAreCounted) {
    const fs::path file = dir_ / "wg0-peers.json";
    { std::ofstream(file) << R"({"peers":[{"wg_pubkey":"bad","last_seen":1}]})"; }
    auto r = show();
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("1 invalid entry skipped"), std::string::npos) << r.out;
}

TEST_F(CacheCliTest, HostnamesArePrintedEscapedForTheTerminal) {
    Peer p;
    p.wg_pubkey = wg::Key::parse_or_throw(kKeyA);
    p.hostname = "evil\u202etxt.exe";  // a valid hostname that would reverse the line
    p.last_seen = Clock::time_point(std::chrono::seconds(1'700'000'000));
    Peer q = p;
    q.wg_pubkey = wg::Key::generate_private().public_key();
    q.hostname = "路由器 \\ co";
    q.nat_type = NatType::kUnknown;
    PeerCache(dir_, "wg0").save({p, q}, p.last_seen);
    auto r = show();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("evil\\u202etxt.exe"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("\u202e"), std::string::npos) << "raw U+202E reached the terminal";
    EXPECT_NE(r.out.find("路由器 \\\\ co"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nat=unknown"), std::string::npos) << r.out;
    // JSON stays JSON: the real characters, escaped only as JSON needs.
    const auto j = nlohmann::json::parse(show({"--json"}).out);
    EXPECT_EQ(j["peers"][0]["hostname"], "evil\u202etxt.exe");
    EXPECT_EQ(j["peers"][1]["nat_type"], "unknown");
}

TEST_F(CacheCliTest, SkippedEntriesAreNamedCappedAndKeptOffJsonStdout) {
    std::string peers;
    for (int i = 0; i < 7; ++i) {
        peers += std::string(i ? "," : "") +
                 R"({"wg_pubkey":"bad\u001b[2Jkey","mesh_ip":"10.0.0.1","last_seen":1})";
    }
    peers += std::string(R"(,{"wg_pubkey":")") + kKeyA +
             R"(","hostname":"tab\there","mesh_ip":"10.0.0.2","last_seen":1})";
    { std::ofstream(dir_ / "wg0-peers.json") << R"({"peers":[)" + peers + "]}"; }
    auto r = show();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("7 invalid entries skipped"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(R"(peers[0] "bad\x1b[2Jkey": wg_pubkey is not a base64 WireGuard key)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("peers[4]"), std::string::npos);
    EXPECT_EQ(r.out.find("peers[5]"), std::string::npos) << "capped at five lines";
    EXPECT_NE(r.out.find("and 2 more"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1 invalid hostname dropped"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("peers[7] \"") + kKeyA + "\": hostname contains"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);

    auto j = show({"--json"});
    ASSERT_EQ(j.exit_code, 0) << j.err;
    const auto doc = nlohmann::json::parse(j.out);  // stdout is the file schema only
    ASSERT_EQ(doc["peers"].size(), 1u);
    EXPECT_FALSE(doc["peers"][0].contains("hostname"));
    EXPECT_NE(j.err.find("7 invalid entries skipped"), std::string::npos) << j.err;
    EXPECT_NE(j.err.find("and 2 more"), std::string::npos) << j.err;
}

TEST_F(CacheCliTest, ACorruptCacheIsReportedWithoutItsRawBytes) {
    {
        std::ofstream(dir_ / "wg0-peers.json")
            << "{\"peers\":[{\"hostname\":\"\xff\xfe\x1b[2J\x9b\"}]}";
    }
    auto r = show();
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
    EXPECT_TRUE(is_valid_utf8(r.err)) << terminal_safe(r.err);
    for (const char c : r.err) {
        const auto byte = static_cast<unsigned char>(c);
        EXPECT_TRUE(c == '\n' || (byte >= 0x20 && byte < 0x7f)) << "raw byte " << int(byte);
    }
}

TEST_F(CacheCliTest, RejectsBadInterfaceNamesAndMissingFlags) {
    for (const char* bad : {"", "a/b", "a b", "wg:0", "0123456789abcdef", "..", "wg\t0"}) {
        auto r = run_command(
            {WGMESH_BINARY, "cache", "show", "--interface", bad, "--state-dir", dir_.string()});
        EXPECT_EQ(r.exit_code, 1) << bad;
        EXPECT_NE(r.err.find("interface name"), std::string::npos) << bad << ": " << r.err;
    }
    EXPECT_EQ(run_command({WGMESH_BINARY, "cache", "show"}).exit_code, 1);
    EXPECT_EQ(run_command({WGMESH_BINARY, "cache"}).exit_code, 1);
    EXPECT_EQ(run_command({WGMESH_BINARY, "cache", "drop", "--interface", "wg0"}).exit_code, 1);
    EXPECT_EQ(
        run_command({WGMESH_BINARY, "cache", "show", "--interface", "wg0", "--bogus"}).exit_code,
        1);
}

}  // namespace
}  // namespace wgmesh::mesh
