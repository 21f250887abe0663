// What the daemon shows an operator beyond the cycle report: the Prometheus metrics
// (docs/metrics.md), served as the control method "metrics" and written to --metrics-file
// after every cycle for node_exporter's textfile collector, and the forwarding-path check
// (ip_forward, rp_filter, every firewall chain on the forward hook), run after every cycle
// and shown by `status`. The loop thread calls after_cycle(); the control thread calls
// metrics_text() and forwarding_json().
#pragma once

#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "mesh/forwarding_path.h"
#include "mesh/metrics.h"
#include "mesh/peer_cache.h"
#include "mesh/peer_store.h"
#include "mesh/reconciler.h"
#include "netlink/forwarding_probe.h"
#include "tools/wgmesh/daemon/repair_scheduler.h"
#include "wg/key.h"

namespace wgmesh::cli {

// Where the figures come from; every callable must be thread-safe.
struct ObservedSources {
    const mesh::PeerStore* store = nullptr;
    const mesh::Reconciler* reconciler = nullptr;
    const mesh::PeerCacheSaver* saver = nullptr;
    wg::Key local_key;
    std::function<DriftReport()> drift;
    std::function<std::optional<std::uint64_t>()> epoch;
    std::function<mesh::KeySet()> offline;  // the health policy's temporarily offline peers
};

class Observability {
  public:
    // Throws when libnftables cannot start (the daemon could not manage forwarding either).
    Observability(const std::string& interface, std::optional<std::filesystem::path> metrics_file,
                  ObservedSources sources);

    // After each cycle, on the loop thread: records its duration, checks the forwarding path
    // (IPv6 forwarding too when a peer advertises an IPv6 network) and writes the metrics
    // file.
    void after_cycle(const mesh::CycleReport& report);

    // The whole exposition, as of the last cycle.
    std::string metrics_text() const;
    // The last forwarding-path check (ForwardingPathReport::to_json()), null before the first.
    nlohmann::json forwarding_json() const;

  private:
    mesh::MetricsSnapshot snapshot() const;
    void write_metrics_file();

    const std::optional<std::filesystem::path> metrics_file_;
    const ObservedSources sources_;
    netlink::ForwardingProbe probe_;                 // loop thread only
    std::optional<std::string> metrics_file_error_;  // loop thread only: logged once per reason

    mutable std::mutex mutex_;  // guards histogram_ and forwarding_
    mesh::ReconcileDurationHistogram histogram_;
    std::optional<mesh::ForwardingPathReport> forwarding_;
};

}  // namespace wgmesh::cli
