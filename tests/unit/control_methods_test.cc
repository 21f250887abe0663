#include "mesh/control_methods.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "mesh/derived_keys.h"
#include "mesh/version.h"

namespace wgmesh::mesh {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kSecret = "control-methods-test-secret-0123456789";
constexpr const char* kKeyA = "CGlHBOvWIl6h6U3TM30oHeUhFxbn6wGNW/kSV9dJ700=";
constexpr const char* kKeyB = "N+/8gdgFgR1Z+ZwTdrOTslUpt0gsOa2GbEl5G2LcRLs=";
constexpr const char* kLocal = "RkDtiCN2kM0ZoM9M9QM4IeOCIOHalV7ZYZxBCBKVFyc=";

class ControlMethodsTest : public ::testing::Test {
  protected:
    ControlMethodsTest()
        : addressing_(kSecret, derive_keys(kSecret)),
          dir_(fs::temp_directory_path() / ("wgmesh-control-" + std::to_string(::getpid()))),
          cache_(dir_, "wgtest") {
        ControlContext context;
        context.interface = "wgtest";
        context.mesh_id = "0123456789ab";
        context.public_key = wg::Key::parse_or_throw(kLocal);
        context.listen_port = 51820;
        context.store = &store_;
        context.cache = &cache_;
        context.addressing = &addressing_;
        context.mesh_ipv6 = addressing_.mesh_ipv6(context.public_key);
        context.local_mesh_ip = [this] {
            return addressing_.mesh_ip(wg::Key::parse_or_throw(kLocal));
        };
        context.last_cycle = [this] { return cycle_; };
        context.cycles = [] { return std::size_t{3}; };
        context.epoch = [] {
            Epoch epoch;
            epoch.id = 7;
            return std::optional<Epoch>(epoch);
        };
        context.interface_health = [this] { return health_; };
        context.peer_health = [this] { return peer_health_; };
        methods_ = std::make_unique<ControlMethods>(std::move(context));
    }
    ~ControlMethodsTest() override { fs::remove_all(dir_); }

    json call(const std::string& method, json params = json::object()) {
        return methods_->handle({method, std::move(params)});
    }
    std::string error_of(const std::string& method, json params) {
        try {
            call(method, std::move(params));
        } catch (const std::exception& e) {
            return e.what();
        }
        return "";
    }

    MeshAddressing addressing_;
    fs::path dir_;
    PeerStore store_;
    PeerCache cache_;
    std::optional<CycleReport> cycle_;
    InterfaceHealth health_;
    std::unordered_map<wg::Key, PeerHealthStatus> peer_health_;
    std::unique_ptr<ControlMethods> methods_;
};

TEST_F(ControlMethodsTest, PeerAddValidatesDerivesAndStores) {
    const auto result = call("peer.add", {{"wg_pubkey", kKeyA},
                                          {"endpoint", "192.0.2.1:51820"},
                                          {"routable_networks", {"172.16.0.0/24"}},
                                          {"introducer", true}});
    EXPECT_TRUE(result.at("added").get<bool>());
    const auto key = wg::Key::parse_or_throw(kKeyA);
    const auto stored = store_.get(key);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->mesh_ip, addressing_.mesh_ip(key));
    EXPECT_TRUE(stored->introducer);
    EXPECT_TRUE(stored->discovered_via.contains("control"));
    EXPECT_EQ(result.at("mesh_ip"), addressing_.mesh_ip(key).to_string());
}

TEST_F(ControlMethodsTest, PeerAddKeepsTheHostnameOrDropsItAloneWithAWarning) {
    auto result = call("peer.add", {{"wg_pubkey", kKeyA}, {"hostname", "路由器 edge-🚀"}});
    EXPECT_FALSE(result.contains("warnings"));
    EXPECT_EQ(store_.get(wg::Key::parse_or_throw(kKeyA))->hostname, "路由器 edge-🚀");

    result = call("peer.add", {{"wg_pubkey", kKeyB}, {"hostname", "evil\x1b[2J"}});
    EXPECT_TRUE(result.at("added").get<bool>()) << "a bad hostname never costs the peer";
    ASSERT_EQ(result.at("warnings").size(), 1u);
    const auto warning = result["warnings"][0].get<std::string>();
    EXPECT_NE(warning.find("hostname dropped"), std::string::npos) << warning;
    EXPECT_NE(warning.find("U+001B"), std::string::npos) << warning;
    EXPECT_EQ(warning.find('\x1b'), std::string::npos) << warning;
    const auto stored = store_.get(wg::Key::parse_or_throw(kKeyB));
    ASSERT_TRUE(stored);
    EXPECT_TRUE(stored->hostname.empty());
}

TEST_F(ControlMethodsTest, InvalidParamsAreRefusedWithAReason) {
    EXPECT_NE(error_of("peer.add", json::object()).find("wg_pubkey"), std::string::npos);
    EXPECT_NE(error_of("peer.add", {{"wg_pubkey", "nope"}}).find("wg_pubkey"), std::string::npos);
    EXPECT_NE(error_of("peer.add", {{"wg_pubkey", kKeyA}, {"endpoint", 5}}).find("endpoint"),
              std::string::npos);
    EXPECT_NE(error_of("peer.add", {{"wg_pubkey", kKeyA}, {"bogus", 1}}).find("unknown field"),
              std::string::npos);
    EXPECT_NE(error_of("peer.add", {{"wg_pubkey", kLocal}}).find("own key"), std::string::npos);
    EXPECT_NE(error_of("peer.remove", json::object()).find("wg_pubkey"), std::string::npos);
    EXPECT_NE(error_of("peer.remove", {{"wg_pubkey", kKeyA}, {"x", 1}}).find("exactly"),
              std::string::npos);
    EXPECT_NE(error_of("peer.remove", {{"wg_pubkey", "zz"}}).find("not a valid"),
              std::string::npos);
    EXPECT_NE(error_of("status", {{"x", 1}}).find("no params"), std::string::npos);
    EXPECT_NE(error_of("reboot", json::object()).find("unknown method"), std::string::npos);
    EXPECT_EQ(store_.size(), 0u);
}

TEST_F(ControlMethodsTest, PeerRemoveRemovesAndStopsRefreshing) {
    call("peer.add", {{"wg_pubkey", kKeyA}});
    EXPECT_TRUE(call("peer.remove", {{"wg_pubkey", kKeyA}}).at("removed").get<bool>());
    EXPECT_FALSE(call("peer.remove", {{"wg_pubkey", kKeyA}}).at("removed").get<bool>());
    methods_->refresh();
    EXPECT_EQ(store_.size(), 0u);
}

TEST_F(ControlMethodsTest, PeersListsTheCacheSchemaWithConfirmationAndRelay) {
    call("peer.add", {{"wg_pubkey", kKeyA}, {"endpoint", "192.0.2.1:51820"}});
    Peer cached;
    cached.wg_pubkey = wg::Key::parse_or_throw(kKeyB);
    cached.mesh_ip = addressing_.mesh_ip(cached.wg_pubkey);
    cached.last_seen = Clock::now();
    store_.update(cached, "cache");
    CycleReport report;
    report.relays.emplace(cached.wg_pubkey, wg::Key::parse_or_throw(kKeyA));
    cycle_ = report;

    const auto peers = call("peers");
    ASSERT_EQ(peers.size(), 2u);
    for (const auto& peer : peers) {
        ASSERT_TRUE(peer.contains("wg_pubkey"));
        ASSERT_TRUE(peer.contains("mesh_ip"));
        ASSERT_TRUE(peer.contains("last_seen"));
        if (peer["wg_pubkey"] == kKeyA) {
            EXPECT_TRUE(peer["confirmed"].get<bool>());
            EXPECT_EQ(peer["endpoint"], "192.0.2.1:51820");
            EXPECT_FALSE(peer.contains("relay"));
        } else {
            EXPECT_FALSE(peer["confirmed"].get<bool>());
            EXPECT_EQ(peer["relay"], kKeyA);
        }
    }
}

TEST_F(ControlMethodsTest, StatusReportsIdentityCountsCycleAndEpoch) {
    call("peer.add", {{"wg_pubkey", kKeyA}});
    CycleReport report;
    report.errors = {"syncing routes: boom"};
    report.configured_peers = 1;
    cycle_ = report;
    const auto status = call("status");
    EXPECT_EQ(status["interface"], "wgtest");
    EXPECT_EQ(status["mesh_id"], "0123456789ab");
    EXPECT_EQ(status["version"], std::string(version()));
    EXPECT_EQ(status["public_key"], kLocal);
    EXPECT_EQ(status["mesh_ip"], addressing_.mesh_ip(wg::Key::parse_or_throw(kLocal)).to_string());
    EXPECT_EQ(status["peers"]["known"], 1);
    EXPECT_EQ(status["peers"]["confirmed"], 1);
    EXPECT_EQ(status["last_cycle"]["errors"], json::array({"syncing routes: boom"}));
    EXPECT_EQ(status["cycles"], 3);
    EXPECT_EQ(status["epoch"]["id"], 7);
    EXPECT_EQ(status["interface_health"], json({{"fault", nullptr}, {"recreations", 0}}));
}

TEST_F(ControlMethodsTest, StatusShowsABrokenInterfaceAndItsRecreations) {
    health_ = {"interface wgtest vanished", 2};
    const auto status = call("status");
    EXPECT_EQ(status["interface_health"]["fault"], "interface wgtest vanished");
    EXPECT_EQ(status["interface_health"]["recreations"], 2);
}

TEST_F(ControlMethodsTest, MetricsAreAnsweredOnlyWhenTheDaemonServesThem) {
    // Without a metrics source the method does not exist, as for an older daemon: `wgmesh
    // metrics` recognises that error and says so.
    EXPECT_EQ(error_of("metrics", json::object()).rfind("unknown method \"metrics\"", 0), 0u);

    ControlContext context;
    context.interface = "wgtest";
    context.public_key = wg::Key::parse_or_throw(kLocal);
    context.store = &store_;
    context.cache = &cache_;
    context.addressing = &addressing_;
    context.metrics = [] { return std::string("wgmesh_routes 3\n"); };
    context.forwarding_path = [] { return json{{"ok", false}, {"verdict", "fail"}}; };
    ControlMethods methods(std::move(context));
    EXPECT_EQ(methods.handle({"metrics", json::object()}), (json{{"text", "wgmesh_routes 3\n"}}));
    EXPECT_THROW(methods.handle({"metrics", json{{"x", 1}}}), std::invalid_argument);
    EXPECT_EQ(methods.handle({"status", json::object()}).at("forwarding_path").at("verdict"),
              "fail");
}

TEST_F(ControlMethodsTest, CacheSaveWritesTheCacheFile) {
    call("peer.add", {{"wg_pubkey", kKeyA}, {"endpoint", "192.0.2.1:51820"}});
    const auto result = call("cache.save");
    EXPECT_EQ(result["peers"], 1);
    const auto state = cache_.read();
    ASSERT_EQ(state.status, CacheFileState::Status::kOk);
    ASSERT_EQ(state.document.peers.size(), 1u);
    EXPECT_EQ(state.document.peers[0].wg_pubkey, wg::Key::parse_or_throw(kKeyA));
}

TEST_F(ControlMethodsTest, PeersShowHealthAndLatencyWhichTheCacheFileDoesNotHold) {
    call("peer.add", {{"wg_pubkey", kKeyA}});
    call("peer.add", {{"wg_pubkey", kKeyB}});
    const auto a = wg::Key::parse_or_throw(kKeyA);
    ASSERT_TRUE(store_.record_latency(a, 12ms));
    PeerHealthStatus offline;
    offline.verdict = HealthVerdict::kOffline;
    offline.failures = 9;
    offline.offline_until = Clock::time_point(1700000030s);
    offline.last_error = "connect: timed out";
    offline.failover_watch = true;
    PeerHealthStatus probed;
    probed.verdict = HealthVerdict::kHealthyByProbe;
    probed.rtt = 2500us;
    peer_health_ = {{a, probed}, {wg::Key::parse_or_throw(kKeyB), offline}};

    for (const auto& peer : call("peers")) {
        if (peer["wg_pubkey"] == kKeyA) {
            EXPECT_EQ(peer["latency_ms"], 12);
            EXPECT_EQ(peer["health"], json({{"state", "probe"},
                                            {"failures", 0},
                                            {"offline_until", nullptr},
                                            {"rtt_us", 2500},
                                            {"last_error", nullptr},
                                            {"failover_watch", false}}));
        } else {
            EXPECT_FALSE(peer.contains("latency_ms"));
            EXPECT_EQ(peer["health"], json({{"state", "offline"},
                                            {"failures", 9},
                                            {"offline_until", 1700000030},
                                            {"rtt_us", nullptr},
                                            {"last_error", "connect: timed out"},
                                            {"failover_watch", true}}));
        }
    }
    const auto status = call("status");
    EXPECT_EQ(status["health"]["probe"], 1);
    EXPECT_EQ(status["health"]["offline"], 1);
    EXPECT_EQ(status["health"]["offline_peers"], json::array({kKeyB}));

    // The cache file keeps the Go daemon's schema: no latency, no health.
    call("cache.save");
    std::ifstream file(cache_.path());
    const std::string saved((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    ASSERT_NE(saved.find(kKeyA), std::string::npos);
    EXPECT_EQ(saved.find("latency"), std::string::npos);
    EXPECT_EQ(saved.find("health"), std::string::npos);
}

TEST_F(ControlMethodsTest, APeerTheHealthPolicyHasNotSeenIsUnchecked) {
    call("peer.add", {{"wg_pubkey", kKeyA}});
    const auto peers = call("peers");
    ASSERT_EQ(peers.size(), 1u);
    EXPECT_EQ(peers[0]["health"]["state"], "unchecked");
}

}  // namespace
}  // namespace wgmesh::mesh
