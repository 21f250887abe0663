// The daemon's metrics in the Prometheus text exposition format, version 0.0.4
// (docs/metrics.md). No HTTP server: `wgmesh metrics` prints the text through the control
// socket and `wgmesh join --metrics-file` writes it for node_exporter's textfile collector.
//
// The daemon fills a MetricsSnapshot from what it already tracks and render_metrics() turns it
// into text; the renderer is pure, so every name, label and escape is unit tested. Metric
// names and label names are a contract with dashboards and alerts: change none of them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wgmesh::mesh {

// The media type of what render_metrics() returns.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4";

// Per-peer series are the only ones whose number grows with the mesh; beyond this many peers
// the rest are left out (wgmesh_wireguard_peers still counts them all).
inline constexpr std::size_t kMaxPeerSeries = 1000;

// Accumulates reconcile cycle durations for wgmesh_reconcile_duration_seconds. A plain value:
// the daemon keeps one, observes on its loop thread and copies it into a snapshot under the
// lock that guards its status.
class ReconcileDurationHistogram {
  public:
    // Upper bounds in seconds, from a no-change cycle (about 1 ms) to a full resync of 100k
    // routes (several seconds); +Inf is implicit.
    static constexpr std::array<double, 13> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

    // Negative and NaN durations (a clock that stepped) count as 0.
    void observe(double seconds);

    // Cumulative: how many observations were <= kBounds[i].
    std::array<std::uint64_t, kBounds.size()> cumulative_counts() const;
    std::uint64_t count() const { return count_; }
    double sum() const { return sum_; }

  private:
    std::array<std::uint64_t, kBounds.size()> in_bucket_{};  // not cumulative
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

// One WireGuard peer as the device reports it.
struct PeerMetrics {
    std::string public_key;                // base64
    std::string hostname;                  // empty when unknown; escaped when rendered
    std::int64_t last_handshake_unix = 0;  // 0: no handshake yet
    std::uint64_t receive_bytes = 0;
    std::uint64_t transmit_bytes = 0;
};

// External changes to one kind of owned kernel state and the repairs that put it back.
// `kind` is the name `status --json` uses under kernel.drift ("route", "address",
// "nft_table", "forward_accept", "link", "wireguard_peer", "ip_forward").
struct DriftMetrics {
    std::string kind;
    std::uint64_t events = 0;
    std::uint64_t repairs = 0;
};

struct MetricsSnapshot {
    std::string version;  // mesh::version()

    // Usable peers, each in exactly one state (docs/metrics.md has the precedence).
    std::size_t peers_confirmed = 0;
    std::size_t peers_cached = 0;
    std::size_t peers_relayed = 0;
    std::size_t peers_offline = 0;

    std::size_t wireguard_peers = 0;  // peers configured on the device
    std::vector<PeerMetrics> peers;   // one per WireGuard peer

    std::size_t routes = 0;          // owned routes in the kernel after the last cycle
    std::size_t route_failures = 0;  // routes the kernel refused in the last cycle

    ReconcileDurationHistogram reconcile_duration;
    std::uint64_t cycles = 0;

    std::vector<DriftMetrics> drift;  // rendered in this order, zeros included

    std::size_t collisions = 0;  // mesh IP collisions seen in the last cycle
    std::uint64_t cache_saves_ok = 0;
    std::uint64_t cache_saves_failed = 0;

    std::optional<std::uint64_t> epoch;  // the relay epoch's id; nullopt: none yet
    // 1 when no forwarding-path check fails (warnings do not count); nullopt: not checked yet.
    std::optional<bool> forwarding_path_ok;
};

// The whole exposition: every family with its HELP and TYPE lines, families in a fixed
// order, per-peer series sorted by public key. Families without a value (an epoch or a
// forwarding check not there yet) keep their HELP and TYPE lines and have no sample.
std::string render_metrics(const MetricsSnapshot& snapshot);

// A label value as the format wants it between double quotes: backslash, double quote and
// newline escaped; invalid UTF-8 and every other character a terminal acts on (controls,
// bidi overrides) replaced by U+FFFD, because the text is printed and parsed as UTF-8.
std::string escape_label_value(std::string_view value);

}  // namespace wgmesh::mesh
