#include "mesh/peer_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using netlink::IpAddress;
using netlink::Prefix;
using netlink::SocketAddress;

constexpr const char* kKeyA = "CGlHBOvWIl6h6U3TM30oHeUhFxbn6wGNW/kSV9dJ700=";
constexpr const char* kKeyB = "N+/8gdgFgR1Z+ZwTdrOTslUpt0gsOa2GbEl5G2LcRLs=";
constexpr const char* kKeyC = "RkDtiCN2kM0ZoM9M9QM4IeOCIOHalV7ZYZxBCBKVFyc=";
constexpr std::int64_t kNow = 1'700'000'000;

Clock::time_point at(std::int64_t unix_seconds) {
    return Clock::time_point(std::chrono::seconds(unix_seconds));
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const fs::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

unsigned mode_of(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

class PeerCacheTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/wgmesh-cache-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        root_ = pattern;
        state_dir_ = root_ / "state" / "wgmesh";
    }
    void TearDown() override { fs::remove_all(root_); }

    PeerCache cache() {
        return PeerCache(state_dir_, "wg0",
                         [this](std::string_view line) { log_.emplace_back(line); });
    }

    Peer full_peer() {
        Peer p;
        p.wg_pubkey = wg::Key::parse_or_throw(kKeyA);
        p.hostname = "alpha";
        p.mesh_ip = IpAddress::v4(10, 42, 3, 4);
        p.mesh_ipv6 = IpAddress::parse("fd12:3456:789a:1::5");
        p.endpoint = SocketAddress::parse("[2001:db8::1]:51820");
        p.introducer = true;
        p.routable_networks = {*Prefix::parse("192.168.10.0/24"), *Prefix::parse("default")};
        p.nat_type = NatType::kCone;
        p.last_seen = at(kNow - 100);
        return p;
    }

    Peer minimal_peer() {
        Peer p;
        p.wg_pubkey = wg::Key::parse_or_throw(kKeyB);
        p.mesh_ip = IpAddress::v4(10, 42, 7, 8);
        p.last_seen = at(kNow - 200);
        return p;
    }

    fs::path root_;
    fs::path state_dir_;
    std::vector<std::string> log_;
};

TEST_F(PeerCacheTest, PathIsStateDirSlashIfacePeersJson) {
    EXPECT_EQ(PeerCache::file_path("/var/lib/wgmesh", "wg0"), "/var/lib/wgmesh/wg0-peers.json");
    EXPECT_THROW(PeerCache(state_dir_, "../etc"), std::invalid_argument);
    EXPECT_THROW(PeerCache(state_dir_, ""), std::invalid_argument);
    EXPECT_THROW(PeerCache(state_dir_, "a234567890123456"), std::invalid_argument);
}

TEST_F(PeerCacheTest, RoundTripKeepsEveryField) {
    auto c = cache();
    c.save({full_peer(), minimal_peer()}, at(kNow));
    auto state = c.read();
    ASSERT_EQ(state.status, CacheFileState::Status::kOk);
    EXPECT_EQ(state.document.updated_at, kNow);
    EXPECT_EQ(state.document.invalid, 0u);
    ASSERT_EQ(state.document.peers.size(), 2u);
    const Peer& a = state.document.peers[0];
    const Peer expected = full_peer();
    EXPECT_EQ(a.wg_pubkey, expected.wg_pubkey);
    EXPECT_EQ(a.hostname, expected.hostname);
    EXPECT_EQ(a.mesh_ip, expected.mesh_ip);
    EXPECT_EQ(a.mesh_ipv6, expected.mesh_ipv6);
    EXPECT_EQ(a.endpoint, expected.endpoint);
    EXPECT_TRUE(a.introducer);
    EXPECT_EQ(a.routable_networks, expected.routable_networks);
    EXPECT_EQ(a.nat_type, NatType::kCone);
    EXPECT_EQ(a.last_seen, expected.last_seen);
    const Peer& b = state.document.peers[1];
    EXPECT_FALSE(b.endpoint);
    EXPECT_FALSE(b.mesh_ipv6);
    EXPECT_TRUE(b.hostname.empty());
}

TEST_F(PeerCacheTest, WritesTheGoSchemaWithOptionalFieldsOmitted) {
    auto c = cache();
    c.save({full_peer(), minimal_peer()}, at(kNow));
    const auto doc = nlohmann::json::parse(read_text(c.path()));
    EXPECT_EQ(doc["version"], 1);
    EXPECT_EQ(doc["updated_at"], kNow);
    const auto& a = doc["peers"][0];
    EXPECT_EQ(a["wg_pubkey"], kKeyA);
    EXPECT_EQ(a["hostname"], "alpha");
    EXPECT_EQ(a["mesh_ip"], "10.42.3.4");
    EXPECT_EQ(a["mesh_ipv6"], "fd12:3456:789a:1::5");
    EXPECT_EQ(a["endpoint"], "[2001:db8::1]:51820");
    EXPECT_EQ(a["introducer"], true);
    EXPECT_EQ(a["routable_networks"], nlohmann::json({"192.168.10.0/24", "0.0.0.0/0"}));
    EXPECT_EQ(a["nat_type"], "cone");
    EXPECT_EQ(a["last_seen"], kNow - 100);
    EXPECT_TRUE(a["last_seen"].is_number_integer());
    // Exactly the Go struct's keys for the minimal entry: omitempty fields absent,
    // mesh_ip and endpoint always present.
    const auto& b = doc["peers"][1];
    std::set<std::string> keys;
    for (const auto& [k, v] : b.items()) {
        keys.insert(k);
    }
    EXPECT_EQ(keys, (std::set<std::string>{"wg_pubkey", "mesh_ip", "endpoint", "last_seen"}));
    EXPECT_EQ(b["endpoint"], "");
}

TEST_F(PeerCacheTest, EmptyStoreWritesEmptyArray) {
    auto c = cache();
    c.save({}, at(kNow));
    const auto doc = nlohmann::json::parse(read_text(c.path()));
    ASSERT_TRUE(doc["peers"].is_array());
    EXPECT_TRUE(doc["peers"].empty());
}

TEST_F(PeerCacheTest, ReadsAFileWrittenByTheGoDaemon) {
    // json.MarshalIndent of the Go PeerCache: struct field order, omitempty fields
    // missing, plus fields a newer daemon might add.
    fs::create_directories(state_dir_);
    write_text(state_dir_ / "wg0-peers.json", std::string(R"({
  "peers": [
    {
      "wg_pubkey": ")") + kKeyA + R"(",
      "hostname": "node-a",
      "mesh_ip": "10.42.3.4",
      "mesh_ipv6": "fd12:3456:789a:1::5",
      "endpoint": "203.0.113.9:51820",
      "introducer": true,
      "routable_networks": [
        "192.168.10.0/24"
      ],
      "nat_type": "symmetric",
      "last_seen": )" + std::to_string(kNow - 60) +
                                                  R"(,
      "future_field": {"nested": [1, 2, 3]}
    },
    {
      "wg_pubkey": ")" + kKeyB + R"(",
      "mesh_ip": "10.42.7.8",
      "endpoint": "",
      "last_seen": )" + std::to_string(kNow - 3600) +
                                                  R"(
    }
  ],
  "updated_at": )" + std::to_string(kNow) + R"(,
  "schema_hint": "ignored"
})");
    auto c = cache();
    PeerStore store([] { return at(kNow); });
    auto report = c.restore(store, at(kNow));
    EXPECT_EQ(report.restored, 2u);
    EXPECT_EQ(report.invalid, 0u);
    auto a = store.get(wg::Key::parse_or_throw(kKeyA));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->hostname, "node-a");
    EXPECT_EQ(a->endpoint, SocketAddress::parse("203.0.113.9:51820"));
    EXPECT_EQ(a->endpoint_method, "cache");
    EXPECT_EQ(a->nat_type, NatType::kSymmetric);
    EXPECT_EQ(a->last_seen, at(kNow - 60));
    auto b = store.get(wg::Key::parse_or_throw(kKeyB));
    ASSERT_TRUE(b);
    EXPECT_FALSE(b->endpoint);
}

TEST_F(PeerCacheTest, ReadsGoNullPeersAsEmpty) {
    const auto doc = parse_peer_cache(R"({"peers":null,"updated_at":5})");
    EXPECT_FALSE(doc.error);
    EXPECT_TRUE(doc.peers.empty());
    EXPECT_EQ(doc.updated_at, 5);
}

TEST_F(PeerCacheTest, RestoreKeepsLastSeenAndLiveUpdateRefreshesIt) {
    auto c = cache();
    c.save({full_peer()}, at(kNow));
    Clock::time_point now = at(kNow + 3600);
    PeerStore store([&] { return now; });
    ASSERT_EQ(c.restore(store, now).restored, 1u);
    const wg::Key key = wg::Key::parse_or_throw(kKeyA);
    auto entry = store.entry(key);
    EXPECT_EQ(entry->peer.last_seen, at(kNow - 100));
    EXPECT_FALSE(entry->confirmed);
    EXPECT_EQ(entry->peer.discovered_via, std::set<std::string>{"cache"});
    EXPECT_EQ(store.usable().size(), 1u) << "cached peers are configured at once";
    EXPECT_TRUE(store.active().empty());

    now += 1s;
    Peer live;
    live.wg_pubkey = key;
    ASSERT_TRUE(store.update(live, "dht").accepted());
    entry = store.entry(key);
    EXPECT_EQ(entry->peer.last_seen, now);
    EXPECT_TRUE(entry->confirmed);
}

TEST_F(PeerCacheTest, RestoreSkipsEntriesOlderThan24hExactlyAtTheBoundary) {
    auto c = cache();
    Peer exactly = full_peer();
    exactly.last_seen = at(kNow - 24 * 3600);
    Peer older = minimal_peer();
    older.last_seen = at(kNow - 24 * 3600 - 1);
    c.save({exactly, older}, at(kNow));
    PeerStore store([] { return at(kNow); });
    auto report = c.restore(store, at(kNow));
    EXPECT_EQ(report.restored, 1u);
    EXPECT_EQ(report.expired, 1u);
    EXPECT_TRUE(store.get(exactly.wg_pubkey));
    EXPECT_FALSE(store.get(older.wg_pubkey));
}

TEST_F(PeerCacheTest, RestoreCountsInvalidEntriesAndKeepsTheValidOnes) {
    fs::create_directories(state_dir_);
    const std::string good = std::string(R"({"wg_pubkey":")") + kKeyA +
                             R"(","mesh_ip":"10.42.0.1","endpoint":"","last_seen":)" +
                             std::to_string(kNow) + "}";
    write_text(state_dir_ / "wg0-peers.json",
               R"({"peers":[)" + good + R"(,{"wg_pubkey":"nope","last_seen":1},42,null]})");
    auto c = cache();
    PeerStore store([] { return at(kNow); });
    auto report = c.restore(store, at(kNow));
    EXPECT_EQ(report.restored, 1u);
    EXPECT_EQ(report.invalid, 3u);
    EXPECT_FALSE(report.moved_aside);
    // Each skipped entry is named in the log: position, key as given, reason.
    const auto logged = [&](const std::string& text) {
        for (const auto& line : log_) {
            if (line.find(text) != std::string::npos) {
                return true;
            }
        }
        return false;
    };
    EXPECT_TRUE(logged(R"(skipped peers[1] "nope": wg_pubkey is not a base64 WireGuard key)"));
    EXPECT_TRUE(logged("skipped peers[2]: not a JSON object"));
    EXPECT_TRUE(logged("skipped peers[3]: not a JSON object"));
}

TEST_F(PeerCacheTest, RestoreNamesTheFirstSkippedEntriesAndCountsTheRest) {
    fs::create_directories(state_dir_);
    std::string peers;
    for (int i = 0; i < 12; ++i) {
        peers += std::string(i ? "," : "") + R"({"wg_pubkey":")" + kKeyA + R"(","last_seen":"x"})";
    }
    peers += std::string(R"(,{"wg_pubkey":")") + kKeyB + R"(","hostname":"bell\u0007","last_seen":)" +
             std::to_string(kNow) + "}";
    write_text(state_dir_ / "wg0-peers.json", R"({"peers":[)" + peers + "]}");
    auto c = cache();
    PeerStore store([] { return at(kNow); });
    const auto report = c.restore(store, at(kNow));
    EXPECT_EQ(report.invalid, 12u);
    EXPECT_EQ(report.restored, 1u);
    EXPECT_EQ(report.hostnames_dropped, 1u);
    EXPECT_TRUE(store.get(wg::Key::parse_or_throw(kKeyB))->hostname.empty());
    std::size_t named = 0;
    bool more = false;
    bool hostname = false;
    for (const auto& line : log_) {
        named += line.find("last_seen is not an integer") != std::string::npos ? 1 : 0;
        more = more || line.find("and 7 more") != std::string::npos;
        hostname = hostname || (line.find("peers[12]") != std::string::npos &&
                                line.find("control character U+0007") != std::string::npos);
        EXPECT_EQ(line.find('\a'), std::string::npos) << line;
    }
    EXPECT_EQ(named, kEntryIssueLines);
    EXPECT_TRUE(more);
    EXPECT_TRUE(hostname);
}

TEST_F(PeerCacheTest, RestoreRespectsTheStoreCap) {
    auto c = cache();
    c.save({full_peer(), minimal_peer()}, at(kNow));
    PeerStore store([] { return at(kNow); }, 1);
    auto report = c.restore(store, at(kNow));
    EXPECT_EQ(report.restored, 1u);
    EXPECT_EQ(report.rejected, 1u);
}

TEST_F(PeerCacheTest, CorruptFileIsMovedAsideWithOneLogLine) {
    fs::create_directories(state_dir_);
    write_text(state_dir_ / "wg0-peers.json", R"({"peers":[{"wg_pubkey":)");
    auto c = cache();
    PeerStore store;
    auto report = c.restore(store, at(kNow));
    EXPECT_TRUE(report.moved_aside);
    EXPECT_EQ(store.size(), 0u);
    EXPECT_FALSE(fs::exists(c.path()));
    EXPECT_TRUE(fs::exists(c.path().string() + ".corrupt"));
    ASSERT_EQ(log_.size(), 1u);
    EXPECT_NE(log_[0].find("corrupt"), std::string::npos);
    EXPECT_NE(log_[0].find(".corrupt"), std::string::npos);
    // The next save works and the next restore reads it.
    c.save({full_peer()}, at(kNow));
    PeerStore again([] { return at(kNow); });
    EXPECT_EQ(c.restore(again, at(kNow)).restored, 1u);
}

TEST_F(PeerCacheTest, OversizedFileIsMovedAside) {
    fs::create_directories(state_dir_);
    {
        std::ofstream out(state_dir_ / "wg0-peers.json", std::ios::binary);
        out << R"({"peers":[],"pad":")" << std::string(kMaxCacheFileBytes, 'x') << R"("})";
    }
    auto c = cache();
    auto state = c.read();
    EXPECT_EQ(state.status, CacheFileState::Status::kCorrupt);
    EXPECT_NE(state.error.find("larger than"), std::string::npos);
    PeerStore store;
    EXPECT_TRUE(c.restore(store, at(kNow)).moved_aside);
}

TEST_F(PeerCacheTest, MissingFileIsNotAnError) {
    auto c = cache();
    EXPECT_EQ(c.read().status, CacheFileState::Status::kMissing);
    PeerStore store;
    auto report = c.restore(store, at(kNow));
    EXPECT_TRUE(report.file_missing);
    EXPECT_TRUE(log_.empty());
}

TEST_F(PeerCacheTest, FileIs0600AndCreatedStateDirIs0700) {
    const mode_t old_umask = ::umask(0);  // the modes must not depend on the umask
    auto c = cache();
    c.save({full_peer()}, at(kNow));
    ::umask(old_umask);
    EXPECT_EQ(mode_of(c.path()), 0600u);
    EXPECT_EQ(mode_of(state_dir_), 0700u);
    EXPECT_EQ(mode_of(state_dir_.parent_path()), 0700u);
    EXPECT_FALSE(fs::exists(c.temp_path()));
}

TEST_F(PeerCacheTest, FailureBeforeRenameLeavesTheOldFile) {
    auto c = cache();
    c.save({full_peer()}, at(kNow));
    const std::string before = read_text(c.path());
    c.set_before_rename_hook([](const fs::path&) { throw std::runtime_error("power cut"); });
    EXPECT_THROW(c.save({minimal_peer()}, at(kNow + 5)), std::runtime_error);
    EXPECT_EQ(read_text(c.path()), before);
    auto state = c.read();
    ASSERT_EQ(state.status, CacheFileState::Status::kOk);
    EXPECT_EQ(state.document.peers.size(), 1u);
    EXPECT_EQ(state.document.peers[0].wg_pubkey, wg::Key::parse_or_throw(kKeyA));
}

TEST_F(PeerCacheTest, ProcessKilledBetweenWriteAndRenameLeavesAReadableFile) {
    auto c = cache();
    c.save({full_peer()}, at(kNow));
    const std::string before = read_text(c.path());
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // The child dies the hard way right before the rename: no unwinding, no cleanup.
        c.set_before_rename_hook([](const fs::path&) { ::_exit(9); });
        c.save({minimal_peer()}, at(kNow + 5));
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 9);
    EXPECT_EQ(read_text(c.path()), before);
    ASSERT_TRUE(fs::exists(c.temp_path())) << "the crash leaves the temp file behind";

    // The leftover breaks neither the next load nor the next save.
    PeerStore store([] { return at(kNow); });
    EXPECT_EQ(c.restore(store, at(kNow)).restored, 1u);
    c.save({minimal_peer(), full_peer()}, at(kNow + 10));
    EXPECT_FALSE(fs::exists(c.temp_path()));
    auto state = c.read();
    ASSERT_EQ(state.status, CacheFileState::Status::kOk);
    EXPECT_EQ(state.document.peers.size(), 2u);
    EXPECT_EQ(mode_of(c.path()), 0600u);
}

TEST_F(PeerCacheTest, SaveOfAStoreWritesAllItsPeers) {
    PeerStore store([] { return at(kNow); });
    ASSERT_TRUE(store.update(full_peer(), "dht").accepted());
    Peer cached = minimal_peer();
    ASSERT_TRUE(store.update(cached, "cache").accepted());
    auto c = cache();
    c.save(store);
    auto state = c.read();
    ASSERT_EQ(state.document.peers.size(), 2u);
    EXPECT_EQ(state.document.updated_at, kNow);
    for (const Peer& p : state.document.peers) {
        if (p.wg_pubkey == cached.wg_pubkey) {
            EXPECT_EQ(p.last_seen, cached.last_seen) << "a cached peer keeps its last_seen";
        } else {
            EXPECT_EQ(p.last_seen, at(kNow));
        }
    }
}

TEST_F(PeerCacheTest, FifoAtThePathDoesNotHang) {
    fs::create_directories(state_dir_);
    ASSERT_EQ(::mkfifo((state_dir_ / "wg0-peers.json").c_str(), 0600), 0);
    auto c = cache();
    EXPECT_THROW(c.read(), std::system_error);
    PeerStore store;
    auto report = c.restore(store, at(kNow));
    EXPECT_EQ(report.restored, 0u);
    EXPECT_EQ(log_.size(), 1u);
}

// --- the parser on hostile input ---

std::string entry_with(const std::string& field, const std::string& value) {
    nlohmann::json entry = {{"wg_pubkey", kKeyC}, {"mesh_ip", "10.1.2.3"}, {"last_seen", kNow}};
    entry[field] = nlohmann::json::parse(value);
    return nlohmann::json({{"peers", {entry}}}).dump();
}

TEST(PeerCacheParser, RejectsBadFieldValuesPerEntry) {
    const std::pair<const char*, const char*> bad[] = {
        {"wg_pubkey", R"("AAAA")"},
        {"wg_pubkey", R"("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")"},  // all zero
        {"wg_pubkey", "17"},
        {"mesh_ip", R"("10.1.2")"},
        {"mesh_ip", R"("fd00::1")"},
        {"mesh_ip", "[]"},
        {"mesh_ipv6", R"("10.1.2.3")"},
        {"endpoint", R"("example.com:51820")"},
        {"endpoint", R"("10.0.0.1:0")"},
        {"endpoint", R"("10.0.0.1:70000")"},
        {"endpoint", R"("fd00::1:51820")"},
        {"routable_networks", R"(["10.0.0.0/33"])"},
        {"routable_networks", R"("10.0.0.0/8")"},
        {"routable_networks", R"([1])"},
        {"introducer", R"("yes")"},
        {"nat_type", "5"},
        {"last_seen", "-1"},
        {"last_seen", "1.5"},
        {"last_seen", R"("1700000000")"},
        {"last_seen", "1e300"},
        {"last_seen", "99999999999999999999999"},
        {"last_seen", "9223372036854775807"},
        {"last_seen", "null"},
    };
    for (const auto& [field, value] : bad) {
        const auto doc = parse_peer_cache(entry_with(field, value));
        EXPECT_FALSE(doc.error) << field << "=" << value;
        EXPECT_EQ(doc.invalid, 1u) << field << "=" << value;
        EXPECT_TRUE(doc.peers.empty()) << field << "=" << value;
    }
    // Liberal about nat_type words: one we cannot interpret is "unknown", the peer stays.
    const auto ok = parse_peer_cache(entry_with("nat_type", R"("port-restricted")"));
    ASSERT_EQ(ok.peers.size(), 1u);
    EXPECT_EQ(ok.peers[0].nat_type, NatType::kUnknown);
    const auto empty = parse_peer_cache(entry_with("nat_type", R"("")"));
    ASSERT_EQ(empty.peers.size(), 1u);
    EXPECT_EQ(empty.peers[0].nat_type, NatType::kNotReported);
    // A hostname the old rule refused: kept now.
    const auto spaced = parse_peer_cache(entry_with("hostname", R"("a b")"));
    ASSERT_EQ(spaced.peers.size(), 1u);
    EXPECT_EQ(spaced.peers[0].hostname, "a b");
}

TEST(PeerCacheParser, WholeDocumentErrors) {
    const std::string deep_array = std::string(100000, '[') + std::string(100000, ']');
    const std::string deep_in_entry =
        R"({"peers":[{"x":)" + std::string(5000, '[') + std::string(5000, ']') + "}]}";
    const std::string not_utf8 = std::string(R"({"peers":[],"x":")") + "\xff\xfe" + "\"}";
    for (const std::string& text :
         {std::string(), std::string("   "), std::string("{"), std::string("[]"),
          std::string("null"), std::string("42"), std::string(R"({"peers":"x"})"),
          std::string(R"({"peers":{}})"), std::string(R"({"peers":[]} trailing)"), deep_array,
          deep_in_entry, not_utf8, std::string("{\"peers\":[]}\0", 13)}) {
        const auto doc = parse_peer_cache(text);
        EXPECT_TRUE(doc.error) << text.substr(0, 40);
        EXPECT_TRUE(doc.peers.empty());
    }
    EXPECT_TRUE(parse_peer_cache(std::string(kMaxCacheFileBytes + 1, ' ')).error);
}

TEST(PeerCacheParser, ToleratesWrongTypedTopLevelExtras) {
    const auto doc = parse_peer_cache(R"({"peers":[],"updated_at":"soon","version":"x"})");
    EXPECT_FALSE(doc.error);
    EXPECT_EQ(doc.updated_at, 0);
    EXPECT_FALSE(parse_peer_cache("{}").error);
}

TEST(PeerCacheParser, BracketsInsideStringsDoNotCountAsNesting) {
    const std::string text = R"({"peers":[],"note":")" + std::string(1000, '[') + R"("})";
    EXPECT_FALSE(parse_peer_cache(text).error);
}

}  // namespace
}  // namespace wgmesh::mesh
