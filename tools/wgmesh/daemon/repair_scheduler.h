// Turns the kernel monitor's events into repairs: which owned state the next repair cycle
// must verify, when it runs (debounced, so a burst such as `ip route flush proto 150` costs
// one repair), how long it backs off while something keeps removing the same kind of state
// (a fight with another daemon or a script), and what `status` reports of it all. Pure logic
// with the clock passed in, so every rule is unit-tested; the daemon's loop thread drives it
// and the control thread reads report().
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mesh/reconciler.h"
#include "netlink/kernel_monitor.h"

namespace wgmesh::cli {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// The kinds of owned state that drift is counted for.
// WireGuard peers have no notifications: their drift is what a cycle found changed and put
// back (CycleReport::wireguard_peers_restored), with no time-to-repair. ip_forward's
// notification says only that a forwarding sysctl changed (our own write is reported too):
// its drift is a cycle that found it off and turned it back on
// (CycleReport::ip_forward_restored), timed from the notification when one came first.
enum class DriftKind {
    kRoute,
    kAddress,
    kNftTable,
    kForwardAccept,
    kLink,
    kWireGuardPeer,
    kIpForward
};
inline constexpr std::size_t kDriftKinds = 7;
// "route", "address", "nft_table", "forward_accept", "link", "wireguard_peer", "ip_forward":
// the names `status --json` uses.
const char* drift_kind_name(DriftKind kind);

struct DriftCounter {
    // Drained batches in which someone else changed this kind (for WireGuard peers: cycles
    // that found them changed).
    std::size_t events = 0;
    std::size_t repairs = 0;  // repair cycles that found it changed and put it back
    std::optional<WallTime> last_event;
    std::optional<std::chrono::milliseconds> last_time_to_repair;  // event to repaired
};

// Something keeps removing one kind of our state: re-adds are backed off.
struct Fight {
    DriftKind kind;
    std::size_t removals = 0;  // repairs that put it back within the fight window
    WallTime last{};
};

struct FullResync {
    WallTime at{};
    std::string reason;  // "start", "timer", "events lost", "link changed"
    std::chrono::milliseconds duration{0};
    // Routes added and removed, addresses and WireGuard peers restored, ip_forward turned on.
    std::size_t changes = 0;
};

struct DriftReport {
    std::array<DriftCounter, kDriftKinds> kinds{};
    std::vector<Fight> fights;  // kinds fought over now
    std::optional<FullResync> last_full_resync;
    std::size_t full_resyncs = 0;
};

class RepairScheduler {
  public:
    struct Settings {
        // From the last event of a burst to the repair: long enough to coalesce one (a flush
        // deletes thousands of routes over tens of milliseconds).
        std::chrono::milliseconds debounce{20};
        // A burst that goes on is repaired this long after its first event all the same.
        std::chrono::milliseconds burst_limit{250};
        // The longest a fight backs a repair off: the cycle interval.
        std::chrono::milliseconds max_delay{5000};
        // This many repairs of one kind within fight_window make a fight.
        std::size_t fight_threshold = 5;
        std::chrono::milliseconds fight_window{10000};
    };

    explicit RepairScheduler(Settings settings);

    // Records one drained batch and schedules a repair (or a full resync for lost events and
    // link changes). A batch that changed only foreign nft rules schedules a cycle that
    // verifies nothing, for the forwarding-path check.
    void note(const netlink::KernelEvents& events, SteadyTime now, WallTime wall);
    // Asks for a full resync (start, the backstop timer) at the next cycle.
    void request_full_resync(std::string reason, SteadyTime now);

    // When the scheduled repair is due; nullopt when none is pending.
    std::optional<SteadyTime> due() const;

    struct Repair {
        mesh::OwnedState state;  // what the cycle must verify
        std::optional<std::string> full_resync_reason;
        // The kinds someone else changed (for ip_forward: a forwarding sysctl changed).
        std::array<bool, kDriftKinds> drifted{};
        std::optional<SteadyTime> first_event;  // when the first of those changes was seen
        // Something the forwarding-path check reads changed (our table, a chain or rule
        // elsewhere on the forward hook, a forwarding sysctl, the link) or may have (events
        // lost): the check must run after this cycle.
        bool forwarding_path_changed = false;
    };
    // Takes the pending repair (what due() announced); none is pending afterwards.
    Repair begin(SteadyTime now);
    // After the repair's cycle: time-to-repair, repair counts, full-resync figures. A fight
    // is counted in repairs that put something back, not in notifications: one flush sends
    // thousands of them over several drains, a fighter removes again after every repair.
    // Returns the kinds that have just started a fight, to be logged once.
    std::vector<DriftKind> finish(const Repair& repair, const mesh::CycleReport& report,
                                  SteadyTime now, WallTime wall);

    // Thread-safe snapshot for `status`.
    DriftReport report() const;

  private:
    std::chrono::milliseconds delay_for(DriftKind kind) const;
    void count_event(DriftKind kind, WallTime wall);
    // Records one repair that put `kind` back; true when it starts a fight.
    bool count_repair(DriftKind kind, SteadyTime now, WallTime wall);
    void forget_old_repairs(SteadyTime now);

    const Settings settings_;
    // Loop thread only: the recent repairs that put each kind back.
    std::array<std::deque<SteadyTime>, kDriftKinds> recent_{};
    Repair pending_;
    std::optional<SteadyTime> due_;
    mutable std::mutex mutex_;  // guards report_
    DriftReport report_;
};

}  // namespace wgmesh::cli
