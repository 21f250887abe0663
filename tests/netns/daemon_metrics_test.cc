// The metrics and the forwarding-path check of a running daemon with a real peer (issue
// "Observability"): `wgmesh metrics` and --metrics-file give text promtool accepts, with the
// peer's series and the routes the kernel holds; a firewall chain that drops relay traffic
// turns wgmesh_forwarding_path_ok and `status` to a failure naming the chain, through the
// kernel monitor's nf_tables event (cycles that change nothing do not run the check).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "tests/support/process.h"

namespace wgmesh::test {
namespace {

using nlohmann::json;

constexpr std::size_t kQuietCycles = 20;

// A and B on one link, B advertising the LAN; A writes its metrics file.
struct MetricsMesh {
    TempDir dir;
    Node a{"a", dir.path()};
    Node b{"b", dir.path()};
    std::filesystem::path metrics_file = a.state_dir() / "textfile" / "wgmesh.prom";

    MetricsMesh() {
        connect_veth(a.ns(), "ul-ab", "192.168.65.1/24", b.ns(), "ul-ba", "192.168.65.2/24");
        add_lan(b.ns());
        a.write_peers(json::array({b.as_peer("192.168.65.2", false, {kLanNetwork})}));
        b.write_peers(json::array({a.as_peer("192.168.65.1")}));
        std::filesystem::create_directories(metrics_file.parent_path());
    }

    void start(std::vector<std::string> a_flags = {}) {
        a_flags.insert(a_flags.end(), {"--metrics-file", metrics_file.string()});
        a.start(a_flags);
        b.start();
    }

    json forwarding_path() const {
        const auto status = a.call("status");
        return status ? status->value("forwarding_path", json()) : json();
    }
    std::size_t check_runs() const {
        const auto path = forwarding_path();
        return path.is_object() ? path.value("check_runs", std::size_t{0}) : 0;
    }
    std::size_t cycles() const {
        const auto status = a.call("status");
        return status ? status->value("cycles", std::size_t{0}) : 0;
    }

    // `wgmesh metrics` against A's daemon.
    CommandResult metrics() const {
        return a.ns().exec(
            {WGMESH_BINARY, "metrics", "--interface", a.interface(), "--socket", a.socket()});
    }
};

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string each; std::getline(in, each);) {
        if (each == line) {
            return true;
        }
    }
    return false;
}

void expect_promtool_accepts(const std::string& text) {
    ASSERT_TRUE(program_exists("promtool"))
        << "promtool is not installed (apt-get install --no-install-recommends prometheus)";
    const auto result = run_command({"promtool", "check", "metrics"}, text);
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err << text;
}

TEST(DaemonMetrics, MetricsOfARunningDaemonWithARealPeer) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    MetricsMesh mesh;
    mesh.start();
    // The peer is on the device and its LAN routed: the figures have something to say.
    ASSERT_TRUE(
        eventually([&] { return mesh.a.has_route(kLanNetwork, mesh.b.mesh_ip()); }, kConverge))
        << mesh.a.log_text();

    const std::string peer_series =
        "wgmesh_peer_receive_bytes_total{public_key=\"" + mesh.b.pub() + "\",hostname=\"\"}";
    std::string text;
    ASSERT_TRUE(eventually(
        [&] {
            const auto result = mesh.metrics();
            text = result.out;
            return result.exit_code == 0 && has_line(text, "wgmesh_wireguard_peers 1") &&
                   has_line(text, "wgmesh_routes 1") && text.find(peer_series) != std::string::npos;
        },
        kOneCycle))
        << text << mesh.a.log_text();
    expect_promtool_accepts(text);
    EXPECT_TRUE(has_line(text, "wgmesh_forwarding_path_ok 1")) << text;
    EXPECT_TRUE(has_line(text, "wgmesh_peers{state=\"confirmed\"} 1")) << text;
    EXPECT_NE(text.find("wgmesh_build_info{version=\""), std::string::npos) << text;
    EXPECT_NE(text.find("wgmesh_drift_events_total{kind=\"wireguard_peer\"} 0"), std::string::npos)
        << text;

    // The textfile collector's file: the same exposition, readable by node_exporter.
    ASSERT_TRUE(eventually([&] { return std::filesystem::exists(mesh.metrics_file); }, kOneCycle));
    const std::string file = read_file(mesh.metrics_file);
    expect_promtool_accepts(file);
    EXPECT_TRUE(has_line(file, "wgmesh_wireguard_peers 1")) << file;
    const auto perms = std::filesystem::status(mesh.metrics_file).permissions();
    EXPECT_NE(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);

    const auto status = mesh.a.call("status");
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->at("forwarding_path").value("ok", false)) << status->dump(2);
}

TEST(DaemonMetrics, CyclesThatChangeNothingRunNoForwardingPathCheck) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    MetricsMesh mesh;
    // Many cycles, and no backstop check within the test.
    mesh.start({"--reconcile-interval", "200ms", "--resync-interval", "3600s"});
    ASSERT_TRUE(
        eventually([&] { return mesh.a.has_route(kLanNetwork, mesh.b.mesh_ip()); }, kConverge))
        << mesh.a.log_text();
    ASSERT_TRUE(eventually([&] { return mesh.check_runs() >= 1; }, kOneCycle));

    const auto runs = mesh.check_runs();
    const auto cycles = mesh.cycles();
    ASSERT_TRUE(eventually([&] { return mesh.cycles() >= cycles + kQuietCycles; }, kConverge));
    EXPECT_EQ(mesh.check_runs(), runs) << "cycles that changed nothing listed the ruleset\n"
                                       << mesh.forwarding_path().dump(2);

    // A table of someone else's (not even a chain): the next cycle checks again.
    mesh.a.ns().exec_checked({"nft", "add table inet wgmt-other"});
    EXPECT_TRUE(eventually([&] { return mesh.check_runs() > runs; }, kOneCycle))
        << mesh.forwarding_path().dump(2);
}

TEST(DaemonMetrics, AChainDroppingRelayTrafficFailsTheForwardingPath) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    MetricsMesh mesh;
    // No cycle and no backstop within the test: only the nf_tables event makes the check run.
    mesh.start({"--reconcile-interval", "60s", "--resync-interval", "3600s"});
    ASSERT_TRUE(eventually([&] { return mesh.forwarding_path().value("ok", false); }, kConverge))
        << mesh.a.log_text();

    // A firewall of someone else's that drops forwarded traffic before our accept is reached.
    mesh.a.ns().exec_checked({"nft",
                              "add table inet wgmt-fw; add chain inet wgmt-fw forward { "
                              "type filter hook forward priority -10; policy drop; }"});
    json path;
    ASSERT_TRUE(eventually(
        [&] {
            const auto status = mesh.a.call("status");
            path = status ? status->value("forwarding_path", json()) : json();
            return path.is_object() && !path.value("ok", true);
        },
        kOneCycle))
        << path.dump(2);
    bool named = false;
    for (const auto& check : path.at("checks")) {
        if (check.value("verdict", "") == "fail" &&
            check.value("check", "").find("wgmt-fw") != std::string::npos) {
            named = true;
        }
    }
    EXPECT_TRUE(named) << path.dump(2);
    EXPECT_TRUE(has_line(mesh.metrics().out, "wgmesh_forwarding_path_ok 0"));
    const auto human = mesh.a.ns().exec(
        {WGMESH_BINARY, "status", "--interface", mesh.a.interface(), "--socket", mesh.a.socket()});
    EXPECT_NE(human.out.find("forwarding:  FAIL nftables inet wgmt-fw forward"), std::string::npos)
        << human.out;
}

}  // namespace
}  // namespace wgmesh::test
