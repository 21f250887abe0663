// What the daemon shows an operator beyond the cycle report: the Prometheus metrics
// (docs/metrics.md), served as the control method "metrics" and written to --metrics-file
// after every cycle for node_exporter's textfile collector, and the forwarding-path check
// (ip_forward, rp_filter, every firewall chain on the forward hook), run after the cycles
// that may have changed what it reads (ForwardingCheckSchedule) and shown by `status`. The
// loop thread calls after_cycle(); the control thread calls metrics_text() and
// forwarding_json().
#pragma once

#include <chrono>
#include <cstddef>
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

// When the forwarding-path check runs. It lists the whole nftables ruleset and reads the
// sysctls, 0.5 to 1 ms of CPU: too much for every cycle of a node where nothing changes, and
// the kernel monitor reports what it reads. So it runs after the first cycle, after a cycle
// whose repair says the path may have changed (a full resync, events of our table, a foreign
// FORWARD chain or any foreign chain or rule, a forwarding sysctl, the link), when the
// answer to "does a peer advertise an IPv6 network" changes (IPv6 forwarding is checked
// then), and otherwise once per `backstop` (the resync interval) for what no notification
// reports: iptables-legacy tables. Pure, with the clock passed in.
class ForwardingCheckSchedule {
  public:
    explicit ForwardingCheckSchedule(std::chrono::milliseconds backstop);

    // Whether the check runs after this cycle; when it does, the backstop counts from `now`.
    bool due(bool forwarding_path_changed, bool ipv6, std::chrono::steady_clock::time_point now);

  private:
    const std::chrono::milliseconds backstop_;
    std::optional<bool> checked_ipv6_;  // the last check's; nullopt before the first
    std::chrono::steady_clock::time_point next_{};
};

// Reads what the forwarding-path check decides from (ForwardingProbe::read in the daemon).
using ForwardingReader = std::function<netlink::ForwardingState(bool ipv6)>;

class Observability {
  public:
    // Throws when libnftables cannot start (the daemon could not manage forwarding either).
    // `check_backstop`: the longest the forwarding-path check goes without running.
    Observability(const std::string& interface, std::optional<std::filesystem::path> metrics_file,
                  ObservedSources sources, std::chrono::milliseconds check_backstop);
    // With the reader given (tests count its reads).
    Observability(ForwardingReader reader, std::optional<std::filesystem::path> metrics_file,
                  ObservedSources sources, std::chrono::milliseconds check_backstop);

    // After each cycle, on the loop thread: records its duration, checks the forwarding path
    // when ForwardingCheckSchedule says so (IPv6 forwarding too when a peer advertises an
    // IPv6 network) and writes the metrics file. `forwarding_path_changed`: the cycle's
    // repair (RepairScheduler::Repair) says what the check reads may have changed.
    void after_cycle(const mesh::CycleReport& report, bool forwarding_path_changed);

    // The whole exposition, as of the last cycle.
    std::string metrics_text() const;
    // The last forwarding-path check (ForwardingPathReport::to_json()) with "check_runs" (how
    // many times it ran) and "checked_at" (unix seconds), null before the first.
    nlohmann::json forwarding_json() const;

  private:
    mesh::MetricsSnapshot snapshot() const;
    void write_metrics_file();

    const std::optional<std::filesystem::path> metrics_file_;
    const ObservedSources sources_;
    ForwardingReader read_forwarding_;               // loop thread only
    ForwardingCheckSchedule check_schedule_;         // loop thread only
    std::optional<std::string> metrics_file_error_;  // loop thread only: logged once per reason

    mutable std::mutex mutex_;  // guards histogram_, forwarding_, check_runs_, checked_at_
    mesh::ReconcileDurationHistogram histogram_;
    std::optional<mesh::ForwardingPathReport> forwarding_;
    std::size_t check_runs_ = 0;
    std::chrono::system_clock::time_point checked_at_{};
};

}  // namespace wgmesh::cli
