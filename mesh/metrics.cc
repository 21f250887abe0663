#include "mesh/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "mesh/terminal_text.h"

namespace wgmesh::mesh {
namespace {

constexpr std::string_view kReplacementCharacter = "\xef\xbf\xbd";  // U+FFFD

// escape_label_value(), appended to `out` without a string per label.
void append_escaped_label_value(std::string& out, std::string_view value);

std::string format_number(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value > 0 ? "+Inf" : "-Inf";
    }
    char text[64];
    const auto result = std::to_chars(std::begin(text), std::end(text), value);
    return std::string(text, result.ptr);
}

template <typename Integer>
std::string format_number(Integer value) {
    return std::to_string(value);
}

struct Label {
    std::string_view name;
    std::string_view value;
};

// Appends the HELP and TYPE lines of one family.
class Exposition {
  public:
    // Three per-peer lines of about 140 bytes each, plus the fixed families.
    explicit Exposition(std::size_t peers) { text_.reserve(8192 + 3 * 160 * peers); }

    void family(std::string_view name, std::string_view type, std::string_view help) {
        text_.append("# HELP ").append(name).append(" ").append(help).append("\n");
        text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    }

    void sample(std::string_view name, std::initializer_list<Label> labels,
                const std::string& value) {
        text_.append(name);
        if (labels.size() > 0) {
            text_.append("{");
            bool first = true;
            for (const Label& label : labels) {
                text_.append(first ? "" : ",").append(label.name).append("=\"");
                append_escaped_label_value(text_, label.value);
                text_.append("\"");
                first = false;
            }
            text_.append("}");
        }
        text_.append(" ").append(value).append("\n");
    }

    std::string take() { return std::move(text_); }

  private:
    std::string text_;
};

void render_peer_states(Exposition& out, const MetricsSnapshot& s) {
    out.family("wgmesh_peers", "gauge",
               "Usable peers by state, each peer in one state: offline, relayed, confirmed, "
               "cached.");
    const std::pair<std::string_view, std::size_t> states[] = {{"confirmed", s.peers_confirmed},
                                                               {"cached", s.peers_cached},
                                                               {"relayed", s.peers_relayed},
                                                               {"offline", s.peers_offline}};
    for (const auto& [state, count] : states) {
        out.sample("wgmesh_peers", {{"state", state}}, format_number(count));
    }
    out.family("wgmesh_wireguard_peers", "gauge", "Peers configured on the WireGuard device.");
    out.sample("wgmesh_wireguard_peers", {}, format_number(s.wireguard_peers));
}

void render_per_peer(Exposition& out, const MetricsSnapshot& s) {
    std::vector<const PeerMetrics*> peers;
    peers.reserve(s.peers.size());
    for (const PeerMetrics& peer : s.peers) {
        peers.push_back(&peer);
    }
    std::sort(peers.begin(), peers.end(), [](const PeerMetrics* a, const PeerMetrics* b) {
        return a->public_key < b->public_key;
    });
    peers.resize(std::min(peers.size(), kMaxPeerSeries));

    struct PeerFamily {
        std::string_view name;
        std::string_view type;
        std::string_view help;
        std::string (*value)(const PeerMetrics&);
    };
    const PeerFamily families[] = {
        {"wgmesh_peer_last_handshake_seconds", "gauge",
         "Unix time of the latest WireGuard handshake with the peer; 0 before the first.",
         [](const PeerMetrics& p) { return format_number(p.last_handshake_unix); }},
        {"wgmesh_peer_receive_bytes_total", "counter",
         "Bytes received from the peer, as the WireGuard device counts them.",
         [](const PeerMetrics& p) { return format_number(p.receive_bytes); }},
        {"wgmesh_peer_transmit_bytes_total", "counter",
         "Bytes sent to the peer, as the WireGuard device counts them.",
         [](const PeerMetrics& p) { return format_number(p.transmit_bytes); }},
    };
    for (const PeerFamily& family : families) {
        out.family(family.name, family.type, family.help);
        for (const PeerMetrics* peer : peers) {
            out.sample(family.name,
                       {{"public_key", peer->public_key}, {"hostname", peer->hostname}},
                       family.value(*peer));
        }
    }
}

void render_routes(Exposition& out, const MetricsSnapshot& s) {
    out.family("wgmesh_routes", "gauge",
               "Routes owned by wgmesh in the kernel after the last cycle.");
    out.sample("wgmesh_routes", {}, format_number(s.routes));
    out.family("wgmesh_route_failures", "gauge", "Routes the kernel refused in the last cycle.");
    out.sample("wgmesh_route_failures", {}, format_number(s.route_failures));
}

void render_cycles(Exposition& out, const MetricsSnapshot& s) {
    constexpr std::string_view kName = "wgmesh_reconcile_duration_seconds";
    const ReconcileDurationHistogram& histogram = s.reconcile_duration;
    out.family(kName, "histogram", "Time one reconcile cycle took.");
    const std::string bucket = std::string(kName) + "_bucket";
    const auto counts = histogram.cumulative_counts();
    for (std::size_t i = 0; i < counts.size(); ++i) {
        out.sample(bucket, {{"le", format_number(ReconcileDurationHistogram::kBounds[i])}},
                   format_number(counts[i]));
    }
    out.sample(bucket, {{"le", "+Inf"}}, format_number(histogram.count()));
    out.sample(std::string(kName) + "_sum", {}, format_number(histogram.sum()));
    out.sample(std::string(kName) + "_count", {}, format_number(histogram.count()));

    out.family("wgmesh_reconcile_cycles_total", "counter",
               "Reconcile cycles run since the daemon started.");
    out.sample("wgmesh_reconcile_cycles_total", {}, format_number(s.cycles));
}

void render_drift(Exposition& out, const MetricsSnapshot& s) {
    out.family("wgmesh_drift_events_total", "counter",
               "External changes seen to owned kernel state, by kind.");
    for (const DriftMetrics& drift : s.drift) {
        out.sample("wgmesh_drift_events_total", {{"kind", drift.kind}},
                   format_number(drift.events));
    }
    out.family("wgmesh_repairs_total", "counter",
               "Repairs that put owned kernel state back after an external change, by kind.");
    for (const DriftMetrics& drift : s.drift) {
        out.sample("wgmesh_repairs_total", {{"kind", drift.kind}}, format_number(drift.repairs));
    }
}

void render_state(Exposition& out, const MetricsSnapshot& s) {
    out.family("wgmesh_collisions", "gauge", "Mesh IP collisions seen in the last cycle.");
    out.sample("wgmesh_collisions", {}, format_number(s.collisions));

    out.family("wgmesh_cache_saves_total", "counter", "Peer cache saves, by result.");
    out.sample("wgmesh_cache_saves_total", {{"result", "ok"}}, format_number(s.cache_saves_ok));
    out.sample("wgmesh_cache_saves_total", {{"result", "error"}},
               format_number(s.cache_saves_failed));

    out.family("wgmesh_epoch", "gauge", "The current relay epoch's number.");
    if (s.epoch) {
        out.sample("wgmesh_epoch", {}, format_number(*s.epoch));
    }
    out.family("wgmesh_forwarding_path_ok", "gauge",
               "1 when no forwarding-path check fails (ip_forward, rp_filter, firewall chains), "
               "else 0.");
    if (s.forwarding_path_ok) {
        out.sample("wgmesh_forwarding_path_ok", {}, *s.forwarding_path_ok ? "1" : "0");
    }
}

}  // namespace

void ReconcileDurationHistogram::observe(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) {
        seconds = 0;
    }
    const auto bound = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
    if (bound != kBounds.end()) {
        ++in_bucket_[static_cast<std::size_t>(bound - kBounds.begin())];
    }
    ++count_;
    sum_ += seconds;
}

std::array<std::uint64_t, ReconcileDurationHistogram::kBounds.size()>
ReconcileDurationHistogram::cumulative_counts() const {
    std::array<std::uint64_t, kBounds.size()> cumulative{};
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        running += in_bucket_[i];
        cumulative[i] = running;
    }
    return cumulative;
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    append_escaped_label_value(out, value);
    return out;
}

namespace {

void append_escaped_label_value(std::string& out, std::string_view value) {
    while (!value.empty()) {
        // Keys and most hostnames are plain printable ASCII: copied as one run.
        const auto plain = std::find_if(value.begin(), value.end(), [](char c) {
            return c < 0x20 || c > 0x7e || c == '\\' || c == '"';
        });
        out.append(value.begin(), plain);
        value.remove_prefix(static_cast<std::size_t>(plain - value.begin()));
        if (value.empty()) {
            break;
        }
        const Utf8Char ch = decode_utf8(value);
        const std::size_t length = ch.length == 0 ? 1 : ch.length;
        if (ch.length == 0) {
            out += kReplacementCharacter;
        } else if (ch.code_point == '\\') {
            out += "\\\\";
        } else if (ch.code_point == '"') {
            out += "\\\"";
        } else if (ch.code_point == '\n') {
            out += "\\n";
        } else if (acts_on_terminal(ch.code_point)) {
            out += kReplacementCharacter;
        } else {
            out.append(value.substr(0, length));
        }
        value.remove_prefix(length);
    }
}

}  // namespace

std::string render_metrics(const MetricsSnapshot& snapshot) {
    Exposition out(snapshot.peers.size());
    out.family("wgmesh_build_info", "gauge", "Always 1; the version label names the build.");
    out.sample("wgmesh_build_info", {{"version", snapshot.version}}, "1");
    render_peer_states(out, snapshot);
    render_per_peer(out, snapshot);
    render_routes(out, snapshot);
    render_cycles(out, snapshot);
    render_drift(out, snapshot);
    render_state(out, snapshot);
    return out.take();
}

}  // namespace wgmesh::mesh
