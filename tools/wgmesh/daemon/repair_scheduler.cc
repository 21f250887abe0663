#include "tools/wgmesh/daemon/repair_scheduler.h"

#include <algorithm>
#include <utility>

namespace wgmesh::cli {

namespace {

std::size_t index_of(DriftKind kind) {
    return static_cast<std::size_t>(kind);
}

}  // namespace

const char* drift_kind_name(DriftKind kind) {
    switch (kind) {
        case DriftKind::kRoute:
            return "route";
        case DriftKind::kAddress:
            return "address";
        case DriftKind::kNftTable:
            return "nft_table";
        case DriftKind::kForwardAccept:
            return "forward_accept";
        case DriftKind::kWireGuardPeer:
            return "wireguard_peer";
        case DriftKind::kIpForward:
            return "ip_forward";
        case DriftKind::kLink:
            break;
    }
    return "link";
}

RepairScheduler::RepairScheduler(Settings settings) : settings_(settings) {}

std::chrono::milliseconds RepairScheduler::delay_for(DriftKind kind) const {
    const std::size_t recent = recent_[index_of(kind)].size();
    if (recent < settings_.fight_threshold) {
        return settings_.debounce;
    }
    // Doubles with every repair past the threshold, up to the cycle interval.
    auto delay = settings_.debounce;
    for (std::size_t i = settings_.fight_threshold; i <= recent && delay < settings_.max_delay;
         ++i) {
        delay *= 2;
    }
    return std::min(delay, settings_.max_delay);
}

void RepairScheduler::forget_old_repairs(SteadyTime now) {
    for (auto& repairs : recent_) {
        while (!repairs.empty() && now - repairs.front() > settings_.fight_window) {
            repairs.pop_front();
        }
    }
    std::lock_guard lock(mutex_);
    std::erase_if(report_.fights, [&](const Fight& fight) {
        return recent_[index_of(fight.kind)].size() < settings_.fight_threshold;
    });
}

void RepairScheduler::count_event(DriftKind kind, WallTime wall) {
    std::lock_guard lock(mutex_);
    auto& counter = report_.kinds[index_of(kind)];
    ++counter.events;
    counter.last_event = wall;
}

bool RepairScheduler::count_repair(DriftKind kind, SteadyTime now, WallTime wall) {
    auto& recent = recent_[index_of(kind)];
    recent.push_back(now);
    if (recent.size() < settings_.fight_threshold) {
        return false;
    }
    // Called with mutex_ held.
    const auto fight = std::find_if(report_.fights.begin(), report_.fights.end(),
                                    [&](const Fight& f) { return f.kind == kind; });
    if (fight != report_.fights.end()) {
        fight->removals = recent.size();
        fight->last = wall;
        return false;
    }
    report_.fights.push_back({kind, recent.size(), wall});
    return true;
}

void RepairScheduler::note(const netlink::KernelEvents& events, SteadyTime now, WallTime wall) {
    forget_old_repairs(now);
    std::vector<DriftKind> touched;
    if (events.routes) {
        pending_.state.routes = true;
        touched.push_back(DriftKind::kRoute);
    }
    if (events.addresses) {
        // The kernel's prefix routes come and go with the addresses.
        pending_.state.addresses = pending_.state.routes = true;
        touched.push_back(DriftKind::kAddress);
    }
    if (events.nft_table) {
        pending_.state.forwarding = true;
        touched.push_back(DriftKind::kNftTable);
    }
    if (events.forward_accept) {
        pending_.state.forwarding = true;
        touched.push_back(DriftKind::kForwardAccept);
    }
    if (events.link) {
        // The kernel drops a downed link's routes without a notification per route.
        touched.push_back(DriftKind::kLink);
    }
    auto delay = settings_.debounce;
    for (const auto kind : touched) {
        pending_.drifted[index_of(kind)] = true;
        count_event(kind, wall);
        delay = std::max(delay, delay_for(kind));
    }
    if (events.forwarding_sysctl) {
        // The forwarding apply turns ip_forward back on. Counted as drift only when the cycle
        // finds it off: the notification does not say what changed, nor who did it.
        pending_.state.forwarding = true;
        pending_.drifted[index_of(DriftKind::kIpForward)] = true;
        delay = std::max(delay, delay_for(DriftKind::kIpForward));
    }
    if (events.overrun || events.link) {
        pending_.state = mesh::OwnedState::all();
        if (!pending_.full_resync_reason) {
            pending_.full_resync_reason = events.overrun ? "events lost" : "link changed";
        }
    }
    if (events.overrun || events.link || events.nft_table || events.forward_accept ||
        events.forwarding_sysctl || events.foreign_nft_rules) {
        pending_.forwarding_path_changed = true;
    }
    if (!touched.empty() || events.forwarding_sysctl || events.overrun) {
        if (!pending_.first_event) {
            pending_.first_event = now;
        }
        // Trailing: a repair in the middle of a flush would put back routes the flush then
        // deletes, and need a second repair. Capped, so that a steady stream of events cannot
        // postpone the repair forever (a fight's longer delay counts from the first event).
        const auto latest = *pending_.first_event + std::max(delay, settings_.burst_limit);
        due_ = std::min(std::max(due_.value_or(now), now + delay), latest);
    } else if (events.foreign_nft_rules) {
        // Not owned state: nothing to time or repair, only the check to run again.
        const auto at = now + settings_.debounce;
        due_ = due_ ? std::min(*due_, at) : at;
    }
}

void RepairScheduler::request_full_resync(std::string reason, SteadyTime now) {
    pending_.state = mesh::OwnedState::all();
    pending_.forwarding_path_changed = true;
    if (!pending_.full_resync_reason) {
        pending_.full_resync_reason = std::move(reason);
    }
    due_ = due_ ? std::min(*due_, now) : now;
}

std::optional<SteadyTime> RepairScheduler::due() const {
    return due_;
}

RepairScheduler::Repair RepairScheduler::begin(SteadyTime) {
    Repair repair = std::move(pending_);
    pending_ = {};
    due_.reset();
    return repair;
}

std::vector<DriftKind> RepairScheduler::finish(const Repair& repair,
                                               const mesh::CycleReport& report, SteadyTime now,
                                               WallTime wall) {
    forget_old_repairs(now);
    std::vector<DriftKind> fights;
    // What the cycle put back, per kind. Our own IPv6 address and link changes come back
    // from the kernel without our port id (see netlink/kernel_monitor.h): their repair finds
    // nothing to fix and is not counted.
    const bool routes_fixed = report.routes.added + report.routes.removed > 0;
    const bool addresses_fixed = report.addresses_restored > 0 || routes_fixed;
    const std::array<bool, kDriftKinds> fixed = {routes_fixed,
                                                 addresses_fixed,
                                                 report.verified.forwarding,
                                                 report.verified.forwarding,
                                                 addresses_fixed,
                                                 report.wireguard_peers_restored > 0,
                                                 report.ip_forward_restored};
    // Found by the cycle, not by an event: counted as seen when put back.
    if (report.wireguard_peers_restored > 0) {
        count_event(DriftKind::kWireGuardPeer, wall);
    }
    if (report.ip_forward_restored) {
        count_event(DriftKind::kIpForward, wall);
    }
    auto drifted = repair.drifted;
    drifted[index_of(DriftKind::kWireGuardPeer)] = report.wireguard_peers_restored > 0;
    drifted[index_of(DriftKind::kIpForward)] = report.ip_forward_restored;
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < kDriftKinds; ++i) {
        if (!drifted[i] || !fixed[i]) {
            continue;
        }
        const auto kind = static_cast<DriftKind>(i);
        auto& counter = report_.kinds[i];
        ++counter.repairs;
        if (count_repair(kind, now, wall)) {
            fights.push_back(kind);
        }
        // Timed only from a notification of this kind (WireGuard sends none; ip_forward
        // may have been found off by a resync with no notification before it).
        if (repair.first_event && repair.drifted[i]) {
            counter.last_time_to_repair =
                std::chrono::duration_cast<std::chrono::milliseconds>(now - *repair.first_event);
        }
    }
    if (repair.full_resync_reason) {
        ++report_.full_resyncs;
        report_.last_full_resync = FullResync{
            wall, *repair.full_resync_reason,
            std::chrono::duration_cast<std::chrono::milliseconds>(report.finished - report.started),
            report.routes.added + report.routes.removed + report.addresses_restored +
                report.wireguard_peers_restored + (report.ip_forward_restored ? 1 : 0)};
    }
    return fights;
}

DriftReport RepairScheduler::report() const {
    std::lock_guard lock(mutex_);
    return report_;
}

}  // namespace wgmesh::cli
