#include "mesh/metrics.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "mesh/terminal_text.h"
#include "tests/support/process.h"

namespace wgmesh::mesh {
namespace {

constexpr const char* kKeyA = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
constexpr const char* kKeyB = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=";

MetricsSnapshot small_snapshot() {
    MetricsSnapshot s;
    s.version = "0.1.0";
    s.peers_confirmed = 2;
    s.peers_cached = 1;
    s.peers_relayed = 1;
    s.peers_offline = 0;
    s.wireguard_peers = 2;
    // Out of order on purpose: series come out sorted by key.
    s.peers = {{kKeyB, "", 0, 0, 0}, {kKeyA, "edge-1", 1764400000, 1234, 5678}};
    s.routes = 12;
    s.route_failures = 1;
    s.reconcile_duration.observe(0.0004);
    s.reconcile_duration.observe(0.003);
    s.reconcile_duration.observe(0.75);
    s.reconcile_duration.observe(42);
    s.cycles = 4;
    s.drift = {{"route", 3, 2}, {"address", 0, 0}, {"forwarding", 1, 1}, {"link", 0, 0}};
    s.collisions = 0;
    s.cache_saves_ok = 5;
    s.cache_saves_failed = 1;
    s.epoch = 7;
    s.forwarding_path_ok = true;
    return s;
}

// Runs promtool (Debian's prometheus package; tools/install-deps --test installs it). Missing
// promtool is a failure, not a skip: without it nothing proves the text parses.
void expect_promtool_accepts(const std::string& text) {
    ASSERT_TRUE(test::program_exists("promtool"))
        << "promtool is not installed (apt-get install --no-install-recommends prometheus)";
    const test::CommandResult result = test::run_command({"promtool", "check", "metrics"}, text);
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
}

std::vector<std::string> lines_starting_with(const std::string& text, const std::string& prefix) {
    std::vector<std::string> found;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) == 0) {
            found.push_back(line);
        }
    }
    return found;
}

TEST(Metrics, SmallSnapshotRendersExactly) {
    const std::string expected =
        R"(# HELP wgmesh_build_info Always 1; the version label names the build.
# TYPE wgmesh_build_info gauge
wgmesh_build_info{version="0.1.0"} 1
# HELP wgmesh_peers Usable peers by state, each peer in one state: offline, relayed, confirmed, cached.
# TYPE wgmesh_peers gauge
wgmesh_peers{state="confirmed"} 2
wgmesh_peers{state="cached"} 1
wgmesh_peers{state="relayed"} 1
wgmesh_peers{state="offline"} 0
# HELP wgmesh_wireguard_peers Peers configured on the WireGuard device.
# TYPE wgmesh_wireguard_peers gauge
wgmesh_wireguard_peers 2
# HELP wgmesh_peer_last_handshake_seconds Unix time of the latest WireGuard handshake with the peer; 0 before the first.
# TYPE wgmesh_peer_last_handshake_seconds gauge
wgmesh_peer_last_handshake_seconds{public_key="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",hostname="edge-1"} 1764400000
wgmesh_peer_last_handshake_seconds{public_key="BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=",hostname=""} 0
# HELP wgmesh_peer_receive_bytes_total Bytes received from the peer, as the WireGuard device counts them.
# TYPE wgmesh_peer_receive_bytes_total counter
wgmesh_peer_receive_bytes_total{public_key="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",hostname="edge-1"} 1234
wgmesh_peer_receive_bytes_total{public_key="BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=",hostname=""} 0
# HELP wgmesh_peer_transmit_bytes_total Bytes sent to the peer, as the WireGuard device counts them.
# TYPE wgmesh_peer_transmit_bytes_total counter
wgmesh_peer_transmit_bytes_total{public_key="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",hostname="edge-1"} 5678
wgmesh_peer_transmit_bytes_total{public_key="BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=",hostname=""} 0
# HELP wgmesh_routes Routes owned by wgmesh in the kernel after the last cycle.
# TYPE wgmesh_routes gauge
wgmesh_routes 12
# HELP wgmesh_route_failures Routes the kernel refused in the last cycle.
# TYPE wgmesh_route_failures gauge
wgmesh_route_failures 1
# HELP wgmesh_reconcile_duration_seconds Time one reconcile cycle took.
# TYPE wgmesh_reconcile_duration_seconds histogram
wgmesh_reconcile_duration_seconds_bucket{le="0.001"} 1
wgmesh_reconcile_duration_seconds_bucket{le="0.0025"} 1
wgmesh_reconcile_duration_seconds_bucket{le="0.005"} 2
wgmesh_reconcile_duration_seconds_bucket{le="0.01"} 2
wgmesh_reconcile_duration_seconds_bucket{le="0.025"} 2
wgmesh_reconcile_duration_seconds_bucket{le="0.05"} 2
wgmesh_reconcile_duration_seconds_bucket{le="0.1"} 2
wgmesh_reconcile_duration_seconds_bucket{le="0.25"} 2
wgmesh_reconcile_duration_seconds_bucket{le="0.5"} 2
wgmesh_reconcile_duration_seconds_bucket{le="1"} 3
wgmesh_reconcile_duration_seconds_bucket{le="2.5"} 3
wgmesh_reconcile_duration_seconds_bucket{le="5"} 3
wgmesh_reconcile_duration_seconds_bucket{le="10"} 3
wgmesh_reconcile_duration_seconds_bucket{le="+Inf"} 4
wgmesh_reconcile_duration_seconds_sum 42.7534
wgmesh_reconcile_duration_seconds_count 4
# HELP wgmesh_reconcile_cycles_total Reconcile cycles run since the daemon started.
# TYPE wgmesh_reconcile_cycles_total counter
wgmesh_reconcile_cycles_total 4
# HELP wgmesh_drift_events_total External changes seen to owned kernel state, by kind.
# TYPE wgmesh_drift_events_total counter
wgmesh_drift_events_total{kind="route"} 3
wgmesh_drift_events_total{kind="address"} 0
wgmesh_drift_events_total{kind="forwarding"} 1
wgmesh_drift_events_total{kind="link"} 0
# HELP wgmesh_repairs_total Repairs that put owned kernel state back after an external change, by kind.
# TYPE wgmesh_repairs_total counter
wgmesh_repairs_total{kind="route"} 2
wgmesh_repairs_total{kind="address"} 0
wgmesh_repairs_total{kind="forwarding"} 1
wgmesh_repairs_total{kind="link"} 0
# HELP wgmesh_collisions Mesh IP collisions seen in the last cycle.
# TYPE wgmesh_collisions gauge
wgmesh_collisions 0
# HELP wgmesh_cache_saves_total Peer cache saves, by result.
# TYPE wgmesh_cache_saves_total counter
wgmesh_cache_saves_total{result="ok"} 5
wgmesh_cache_saves_total{result="error"} 1
# HELP wgmesh_epoch The current relay epoch's number.
# TYPE wgmesh_epoch gauge
wgmesh_epoch 7
# HELP wgmesh_forwarding_path_ok 1 when no forwarding-path check fails (ip_forward, rp_filter, firewall chains), else 0.
# TYPE wgmesh_forwarding_path_ok gauge
wgmesh_forwarding_path_ok 1
)";
    const std::string text = render_metrics(small_snapshot());
    EXPECT_EQ(text, expected);
    expect_promtool_accepts(text);
}

TEST(Metrics, ValuesNotKnownYetLeaveTheirFamilyWithoutASample) {
    MetricsSnapshot snapshot = small_snapshot();
    snapshot.epoch.reset();
    snapshot.forwarding_path_ok = false;
    std::string text = render_metrics(snapshot);
    EXPECT_EQ(lines_starting_with(text, "wgmesh_epoch").size(), 0u);
    EXPECT_EQ(lines_starting_with(text, "# TYPE wgmesh_epoch gauge").size(), 1u);
    EXPECT_EQ(lines_starting_with(text, "wgmesh_forwarding_path_ok "),
              std::vector<std::string>{"wgmesh_forwarding_path_ok 0"});
    snapshot.forwarding_path_ok.reset();
    text = render_metrics(snapshot);
    EXPECT_EQ(lines_starting_with(text, "wgmesh_forwarding_path_ok ").size(), 0u);
    expect_promtool_accepts(text);
}

TEST(Metrics, EmptySnapshotIsValidExposition) {
    const std::string text = render_metrics(MetricsSnapshot{});
    EXPECT_EQ(lines_starting_with(text, "wgmesh_build_info"),
              std::vector<std::string>{"wgmesh_build_info{version=\"\"} 1"});
    EXPECT_EQ(lines_starting_with(text, "wgmesh_reconcile_duration_seconds_count"),
              std::vector<std::string>{"wgmesh_reconcile_duration_seconds_count 0"});
    expect_promtool_accepts(text);
}

TEST(Metrics, LabelValuesAreEscapedPerTheFormat) {
    EXPECT_EQ(escape_label_value("plain-host"), "plain-host");
    EXPECT_EQ(escape_label_value(R"(back\slash)"), R"(back\\slash)");
    EXPECT_EQ(escape_label_value(R"(say "hi")"), R"(say \"hi\")");
    EXPECT_EQ(escape_label_value("two\nlines"), R"(two\nlines)");
    EXPECT_EQ(escape_label_value("Büro 路由器 🚀"), "Büro 路由器 🚀");
    // Not valid UTF-8, or acted on by a terminal: replaced, never passed through.
    const std::string replacement = "\xef\xbf\xbd";
    EXPECT_EQ(escape_label_value("bad\xff"), "bad" + replacement);
    EXPECT_EQ(escape_label_value("\x1b[2Jx"), replacement + "[2Jx");
    EXPECT_EQ(escape_label_value(std::string("nul\0x", 5)), "nul" + replacement + "x");
    EXPECT_EQ(escape_label_value("cr\rtab\t"), "cr" + replacement + "tab" + replacement);
    EXPECT_EQ(escape_label_value("rtl\u202eevil"), "rtl" + replacement + "evil");
    EXPECT_EQ(escape_label_value("truncated\xe8\xb7"), "truncated" + replacement + replacement);
}

TEST(Metrics, HostileHostnamesStayInsideTheirLabel) {
    MetricsSnapshot snapshot = small_snapshot();
    const std::vector<std::string> hostile = {
        "\"} 1\nwgmesh_routes 999\n# ",
        "a\\",
        "\\\"",
        "\n\n\n",
        "x\"y\\z\nq",
        "bad\xc0\x80utf8\xff",
        "\x1b]0;title\x07",
        std::string("nul\0byte", 8),
        "rtl\u202e",
        std::string(253, '"'),
    };
    snapshot.peers.clear();
    for (std::size_t i = 0; i < hostile.size(); ++i) {
        std::string key(43, 'A');
        key[0] = static_cast<char>('a' + i);
        snapshot.peers.push_back({key + "=", hostile[i], 1, 2, 3});
    }
    const std::string text = render_metrics(snapshot);
    // Nothing escaped a label: the injected sample does not exist, every line is whole.
    EXPECT_EQ(lines_starting_with(text, "wgmesh_routes "),
              std::vector<std::string>{"wgmesh_routes 12"});
    EXPECT_EQ(lines_starting_with(text, "wgmesh_peer_receive_bytes_total{").size(), hostile.size());
    EXPECT_TRUE(is_valid_utf8(text));
    for (const char c : text) {
        EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20) << static_cast<int>(c);
    }
    expect_promtool_accepts(text);
}

TEST(Metrics, ThousandPeersRender) {
    MetricsSnapshot snapshot = small_snapshot();
    snapshot.peers.clear();
    for (int i = 0; i < 1000; ++i) {
        char key[45];
        std::snprintf(key, sizeof key, "%042d=", i);  // 43 characters, unique
        snapshot.peers.push_back({key, "node-" + std::to_string(i), 1764400000 + i,
                                  static_cast<std::uint64_t>(i) * 1000, 7});
    }
    snapshot.wireguard_peers = 1000;
    const std::string text = render_metrics(snapshot);
    EXPECT_EQ(lines_starting_with(text, "wgmesh_peer_last_handshake_seconds{").size(), 1000u);
    EXPECT_EQ(lines_starting_with(text, "wgmesh_peer_transmit_bytes_total{").size(), 1000u);
    const auto first = lines_starting_with(text, "wgmesh_peer_receive_bytes_total{").front();
    EXPECT_EQ(first, "wgmesh_peer_receive_bytes_total{public_key=\"" + std::string(42, '0') +
                         "=\",hostname=\"node-0\"} 0");
    expect_promtool_accepts(text);
}

TEST(Metrics, PeerSeriesStopAtTheCardinalityBound) {
    MetricsSnapshot snapshot = small_snapshot();
    snapshot.peers.clear();
    for (std::size_t i = 0; i < kMaxPeerSeries + 5; ++i) {
        char key[45];
        std::snprintf(key, sizeof key, "%042zu=", kMaxPeerSeries + 5 - i);  // reversed
        snapshot.peers.push_back({key, "", 0, 0, 0});
    }
    snapshot.wireguard_peers = snapshot.peers.size();
    const std::string text = render_metrics(snapshot);
    const auto series = lines_starting_with(text, "wgmesh_peer_last_handshake_seconds{");
    ASSERT_EQ(series.size(), kMaxPeerSeries);
    // The lowest keys are kept: the output is the same whatever order the daemon passes.
    EXPECT_NE(series.front().find(std::string(41, '0') + "1="), std::string::npos);
    EXPECT_EQ(lines_starting_with(text, "wgmesh_wireguard_peers "),
              std::vector<std::string>{"wgmesh_wireguard_peers 1005"});
}

TEST(ReconcileDurationHistogram, BucketsAreCumulativeWithSumAndCount) {
    ReconcileDurationHistogram histogram;
    for (const double seconds : {0.001, 0.0010001, 0.01, 10.0, 10.5, -1.0}) {
        histogram.observe(seconds);
    }
    const auto counts = histogram.cumulative_counts();
    EXPECT_EQ(counts.front(), 2u);  // 0.001 (upper bounds are inclusive) and -1 counted as 0
    EXPECT_EQ(counts[1], 3u);
    EXPECT_EQ(counts[3], 4u);          // <= 0.01
    EXPECT_EQ(counts.back(), 5u);      // <= 10
    EXPECT_EQ(histogram.count(), 6u);  // +Inf
    EXPECT_DOUBLE_EQ(histogram.sum(), 0.001 + 0.0010001 + 0.01 + 10.0 + 10.5);
    for (std::size_t i = 1; i < counts.size(); ++i) {
        EXPECT_LE(counts[i - 1], counts[i]);
    }
}

}  // namespace
}  // namespace wgmesh::mesh
