#include "tools/wgmesh/daemon/kernel_watch.h"

#include <algorithm>
#include <ctime>
#include <exception>

#include "mesh/log.h"
#include "netlink/address.h"

namespace wgmesh::cli {

namespace {

using namespace std::chrono_literals;

// From the first event to the repair: coalesces a burst (a flush deletes thousands of routes
// in a few milliseconds) into one repair, and stays far below the 50 ms repair target.
constexpr auto kRepairDebounce = 15ms;
constexpr std::size_t kFightThreshold = 5;
constexpr auto kFightWindow = 10s;

std::int64_t unix_seconds(WallTime time) {
    return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

std::string describe_fight(DriftKind kind, const netlink::OwnedScope& scope) {
    switch (kind) {
        case DriftKind::kRoute:
            return "routes on " + scope.interface + " (protocol " +
                   std::to_string(scope.route_protocol) + ", table " +
                   std::to_string(scope.route_table) + ")";
        case DriftKind::kAddress:
            return "the mesh addresses on " + scope.interface;
        case DriftKind::kNftTable:
            return "the nft table inet " + scope.nft_table;
        case DriftKind::kForwardAccept:
            return "the tagged accept in the ip/ip6 filter FORWARD chain";
        case DriftKind::kWireGuardPeer:
            return "WireGuard peers of " + scope.interface;
        case DriftKind::kIpForward:
            return "the setting net.ipv4.ip_forward = 1";
        case DriftKind::kLink:
            break;
    }
    return "link " + scope.interface;
}

}  // namespace

KernelWatch::KernelWatch(KernelWatchSettings settings)
    : settings_(std::move(settings)),
      scheduler_({.debounce = kRepairDebounce,
                  .max_delay = settings_.cycle_interval,
                  .fight_threshold = kFightThreshold,
                  .fight_window = kFightWindow}),
      next_resync_(std::chrono::steady_clock::now() + settings_.resync_interval) {
    if (!settings_.monitor) {
        set_mode("off (--no-kernel-monitor)");
    } else {
        try {
            monitor_ = std::make_unique<netlink::KernelMonitor>(settings_.scope,
                                                                settings_.monitor_buffer_bytes);
            set_mode("on");
        } catch (const std::exception& e) {
            set_mode(std::string("unavailable: ") + e.what());
            mesh::log_error("cannot watch the kernel for changes (" + std::string(e.what()) +
                            "); verifying routes, addresses and rules every cycle instead");
        }
    }
    scheduler_.request_full_resync("start", std::chrono::steady_clock::now());
}

void KernelWatch::set_mode(std::string mode) {
    std::lock_guard lock(mode_mutex_);
    mode_ = std::move(mode);
}

int KernelWatch::fd() const {
    return monitor_ ? monitor_->fd() : -1;
}

void KernelWatch::on_readable(SteadyTime now) {
    netlink::KernelEvents events;
    try {
        events = monitor_->drain();
    } catch (const std::exception& e) {
        // A socket that failed and cannot be reopened: poll from now on.
        set_mode(std::string("failed: ") + e.what());
        mesh::log_error("kernel monitor failed (" + std::string(e.what()) +
                        "); verifying routes, addresses and rules every cycle instead");
        monitor_.reset();
        scheduler_.request_full_resync("events lost", now);
        return;
    }
    if (events.overrun) {
        mesh::log_warning("kernel notifications were lost; resyncing everything");
    }
    scheduler_.note(events, now, std::chrono::system_clock::now());
}

SteadyTime KernelWatch::next_deadline() const {
    return std::min(scheduler_.due().value_or(SteadyTime::max()), next_resync_);
}

bool KernelWatch::due(SteadyTime now) const {
    return now >= next_deadline();
}

RepairScheduler::Repair KernelWatch::before_cycle(mesh::Reconciler& reconciler, SteadyTime now) {
    if (now >= next_resync_) {
        next_resync_ = now + settings_.resync_interval;
        scheduler_.request_full_resync("timer", now);
    }
    auto repair = scheduler_.begin(now);
    // Without a monitor nothing tells us about changes: every cycle looks.
    if (!monitor_) {
        repair.state = mesh::OwnedState::all();
        repair.forwarding_path_changed = true;
    }
    reconciler.mark_unverified(repair.state);
    return repair;
}

void KernelWatch::after_cycle(const RepairScheduler::Repair& repair,
                              const mesh::CycleReport& report, SteadyTime now) {
    for (const auto kind :
         scheduler_.finish(repair, report, now, std::chrono::system_clock::now())) {
        mesh::log_warning("something keeps removing " + describe_fight(kind, settings_.scope) +
                          " (put back " + std::to_string(kFightThreshold) + " times within " +
                          std::to_string(kFightWindow.count()) +
                          " s); backing repairs off up to the cycle interval");
    }
}

nlohmann::json KernelWatch::status_json(
    const std::vector<netlink::InterfaceAddress>& wanted) const {
    const auto drift = scheduler_.report();
    nlohmann::json kinds = nlohmann::json::object();
    for (std::size_t i = 0; i < kDriftKinds; ++i) {
        const auto& counter = drift.kinds[i];
        kinds[drift_kind_name(static_cast<DriftKind>(i))] = {
            {"events", counter.events},
            {"repairs", counter.repairs},
            {"last_event_at",
             counter.last_event ? nlohmann::json(unix_seconds(*counter.last_event)) : nullptr},
            {"last_time_to_repair_ms", counter.last_time_to_repair
                                           ? nlohmann::json(counter.last_time_to_repair->count())
                                           : nullptr}};
    }
    nlohmann::json fights = nlohmann::json::array();
    for (const auto& fight : drift.fights) {
        fights.push_back({{"kind", drift_kind_name(fight.kind)},
                          {"object", describe_fight(fight.kind, settings_.scope)},
                          {"removals", fight.removals},
                          {"window_s", kFightWindow.count()},
                          {"last_at", unix_seconds(fight.last)}});
    }
    nlohmann::json resync = nullptr;
    if (drift.last_full_resync) {
        const auto& last = *drift.last_full_resync;
        resync = {{"at", unix_seconds(last.at)},
                  {"reason", last.reason},
                  {"duration_ms", last.duration.count()},
                  {"changes", last.changes}};
    }
    // Read now, from the kernel: a removed address shows as missing until it is back.
    nlohmann::json addresses = nlohmann::json::array();
    std::vector<netlink::InterfaceAddress> present;
    std::string address_error;
    try {
        present = netlink::KernelAddressSet(settings_.scope.interface).list();
    } catch (const std::exception& e) {
        address_error = e.what();
    }
    for (const auto& address : wanted) {
        addresses.push_back(
            {{"address", address.to_string()},
             {"present", std::find(present.begin(), present.end(), address) != present.end()}});
    }
    std::string mode;
    {
        std::lock_guard lock(mode_mutex_);
        mode = mode_;
    }
    nlohmann::json status = {
        {"monitor", std::move(mode)},
        {"resync_interval_s",
         std::chrono::duration_cast<std::chrono::seconds>(settings_.resync_interval).count()},
        {"drift", std::move(kinds)},
        {"fights", std::move(fights)},
        {"full_resyncs", drift.full_resyncs},
        {"last_full_resync", std::move(resync)},
        {"mesh_addresses", std::move(addresses)},
    };
    if (!address_error.empty()) {
        status["mesh_addresses_error"] = address_error;
    }
    return status;
}

}  // namespace wgmesh::cli
