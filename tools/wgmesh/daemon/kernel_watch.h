// How the daemon holds the kernel state it owns: the kernel monitor's events become
// debounced repairs (RepairScheduler), a full resync runs at start, when events were lost,
// when the link changed and every resync interval (the backstop), and without a monitor
// (--no-kernel-monitor, or one that could not be opened) every cycle verifies everything, as
// the polling baseline. Runs on the loop thread; status_json() is for the control thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mesh/reconciler.h"
#include "netlink/ip_address.h"
#include "netlink/kernel_monitor.h"
#include "tools/wgmesh/daemon/repair_scheduler.h"

namespace wgmesh::cli {

struct KernelWatchSettings {
    netlink::OwnedScope scope;
    std::chrono::milliseconds cycle_interval{5000};
    std::chrono::milliseconds resync_interval{60000};
    bool monitor = true;
    int monitor_buffer_bytes = 0;  // the monitor's receive buffer; 0: its default (4 MiB)
};

class KernelWatch {
  public:
    // Opens the monitor (in the calling thread's namespace) unless settings.monitor is off;
    // a monitor that cannot be opened is logged and the daemon polls instead.
    explicit KernelWatch(KernelWatchSettings settings);

    // The monitor's fd for the loop's poll, -1 when polling.
    int fd() const;
    // The fd was readable: drains it and schedules the repair.
    void on_readable(SteadyTime now);
    // The earliest of the pending repair and the next backstop resync.
    SteadyTime next_deadline() const;
    // Whether a repair or a resync is due at `now`.
    bool due(SteadyTime now) const;

    // Around each cycle: marks what the cycle must verify, then records what it repaired.
    RepairScheduler::Repair before_cycle(mesh::Reconciler& reconciler, SteadyTime now);
    void after_cycle(const RepairScheduler::Repair& repair, const mesh::CycleReport& report,
                     SteadyTime now);

    // `status`'s "kernel" object: monitor, drift per kind, fights, full resyncs, and whether
    // each of `wanted` addresses is on the interface right now. Thread-safe.
    nlohmann::json status_json(const std::vector<netlink::InterfaceAddress>& wanted) const;
    // The drift counters alone (for the metrics). Thread-safe.
    DriftReport drift() const { return scheduler_.report(); }

  private:
    const KernelWatchSettings settings_;
    void set_mode(std::string mode);

    std::unique_ptr<netlink::KernelMonitor> monitor_;  // loop thread only
    mutable std::mutex mode_mutex_;                    // guards mode_
    std::string mode_;                                 // "on", or why there is no monitor
    RepairScheduler scheduler_;
    SteadyTime next_resync_;
};

}  // namespace wgmesh::cli
