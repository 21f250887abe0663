#include "tools/wgmesh/daemon/observability.h"

#include <chrono>
#include <exception>
#include <memory>
#include <utility>

#include "mesh/log.h"
#include "mesh/version.h"
#include "netlink/atomic_file.h"

namespace wgmesh::cli {

ForwardingCheckSchedule::ForwardingCheckSchedule(std::chrono::milliseconds backstop)
    : backstop_(backstop) {}

bool ForwardingCheckSchedule::due(bool forwarding_path_changed, bool ipv6,
                                  std::chrono::steady_clock::time_point now) {
    if (checked_ipv6_ && !forwarding_path_changed && *checked_ipv6_ == ipv6 && now < next_) {
        return false;
    }
    checked_ipv6_ = ipv6;
    next_ = now + backstop_;
    return true;
}

Observability::Observability(const std::string& interface,
                             std::optional<std::filesystem::path> metrics_file,
                             ObservedSources sources, std::chrono::milliseconds check_backstop)
    : Observability([probe = std::make_shared<netlink::ForwardingProbe>(interface)](
                        bool ipv6) { return probe->read(ipv6); },
                    std::move(metrics_file), std::move(sources), check_backstop) {}

Observability::Observability(ForwardingReader reader,
                             std::optional<std::filesystem::path> metrics_file,
                             ObservedSources sources, std::chrono::milliseconds check_backstop)
    : metrics_file_(std::move(metrics_file)),
      sources_(std::move(sources)),
      read_forwarding_(std::move(reader)),
      check_schedule_(check_backstop) {}

void Observability::after_cycle(const mesh::CycleReport& report, bool forwarding_path_changed) {
    // Whether relay traffic may be IPv6 beyond the mesh's own addresses: wgmesh turns IPv4
    // forwarding on but leaves IPv6 forwarding alone (it changes how every interface treats
    // router advertisements), so the check only asks for it when it matters.
    const bool ipv6 = report.peers_advertise_ipv6_networks;
    std::optional<mesh::ForwardingPathReport> forwarding;
    if (check_schedule_.due(forwarding_path_changed, ipv6, std::chrono::steady_clock::now())) {
        // The sysctls and one nft listing, which commits nothing, so the kernel monitor sees
        // no change from it.
        forwarding = mesh::check_forwarding_path(read_forwarding_(ipv6));
    }
    {
        std::lock_guard lock(mutex_);
        histogram_.observe(std::chrono::duration<double>(report.finished - report.started).count());
        if (forwarding) {
            forwarding_ = std::move(forwarding);
            ++check_runs_;
            checked_at_ = std::chrono::system_clock::now();
        }
    }
    if (metrics_file_) {
        write_metrics_file();
    }
}

void Observability::write_metrics_file() {
    try {
        // 0644: node_exporter runs as its own user and reads the file, nothing in it is secret.
        netlink::write_file_atomically(*metrics_file_, metrics_text(), {.mode = 0644});
        if (metrics_file_error_) {
            mesh::log_info("metrics file " + metrics_file_->string() + " written again");
            metrics_file_error_.reset();
        }
    } catch (const std::exception& e) {
        if (metrics_file_error_ != e.what()) {
            metrics_file_error_ = e.what();
            mesh::log_error(std::string("cannot write the metrics file: ") + e.what());
        }
    }
}

std::string Observability::metrics_text() const {
    return mesh::render_metrics(snapshot());
}

nlohmann::json Observability::forwarding_json() const {
    std::lock_guard lock(mutex_);
    if (!forwarding_) {
        return nullptr;
    }
    auto json = forwarding_->to_json();
    json["check_runs"] = check_runs_;
    json["checked_at"] =
        std::chrono::duration_cast<std::chrono::seconds>(checked_at_.time_since_epoch()).count();
    return json;
}

mesh::MetricsSnapshot Observability::snapshot() const {
    mesh::MetricsSnapshot snapshot;
    snapshot.version = std::string(mesh::version());
    const auto report = sources_.reconciler->last_report();
    const auto offline = sources_.offline ? sources_.offline() : mesh::KeySet{};

    std::unordered_map<wg::Key, std::string> hostnames;
    for (const auto& entry : sources_.store->usable()) {
        const auto& key = entry.peer.wg_pubkey;
        if (key == sources_.local_key) {
            continue;
        }
        hostnames.emplace(key, entry.peer.hostname);
        // Each usable peer in one state; the precedence is docs/metrics.md's.
        if (offline.contains(key)) {
            ++snapshot.peers_offline;
        } else if (report && report->relays.contains(key)) {
            ++snapshot.peers_relayed;
        } else if (entry.confirmed) {
            ++snapshot.peers_confirmed;
        } else {
            ++snapshot.peers_cached;
        }
    }
    if (report) {
        snapshot.wireguard_peers = report->traffic.size();
        snapshot.peers.reserve(report->traffic.size());
        for (const auto& [key, traffic] : report->traffic) {
            mesh::PeerMetrics peer;
            peer.public_key = key.to_base64();
            if (const auto name = hostnames.find(key); name != hostnames.end()) {
                peer.hostname = name->second;
            }
            if (const auto handshake = report->handshakes.find(key);
                handshake != report->handshakes.end()) {
                peer.last_handshake_unix = std::chrono::duration_cast<std::chrono::seconds>(
                                               handshake->second.time_since_epoch())
                                               .count();
            }
            peer.receive_bytes = traffic.receive_bytes;
            peer.transmit_bytes = traffic.transmit_bytes;
            snapshot.peers.push_back(std::move(peer));
        }
        // What the last cycle left in the kernel: the desired routes but those refused.
        snapshot.route_failures = report->routes.failures.size();
        snapshot.routes = report->desired_routes > snapshot.route_failures
                              ? report->desired_routes - snapshot.route_failures
                              : 0;
        snapshot.collisions = report->collisions.size();
    }
    snapshot.cycles = sources_.reconciler->cycles();
    if (sources_.drift) {
        const auto drift = sources_.drift();
        for (std::size_t i = 0; i < kDriftKinds; ++i) {
            snapshot.drift.push_back({drift_kind_name(static_cast<DriftKind>(i)),
                                      drift.kinds[i].events, drift.kinds[i].repairs});
        }
    }
    snapshot.cache_saves_ok = sources_.saver->saves();
    snapshot.cache_saves_failed = sources_.saver->failures();
    if (sources_.epoch) {
        snapshot.epoch = sources_.epoch();
    }
    std::lock_guard lock(mutex_);
    snapshot.reconcile_duration = histogram_;
    if (forwarding_) {
        snapshot.forwarding_path_ok = forwarding_->ok();
    }
    return snapshot;
}

}  // namespace wgmesh::cli
