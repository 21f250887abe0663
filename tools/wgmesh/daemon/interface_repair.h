// What the daemon does when its WireGuard interface breaks under it: wireguard-go killed
// (its TUN link vanishes, a stale socket stays), the UAPI socket file removed (wireguard-go
// still runs, holding the link), or the link deleted by someone. Checked before every
// reconcile cycle; see docs/daemon.md, "When the interface breaks".
#pragma once

#include <optional>
#include <string>

#include "wg/device.h"

namespace wgmesh::cli {

enum class InterfaceCondition {
    kHealthy,       // the link exists and the device answers
    kLinkMissing,   // no link of that name in this namespace
    kDeviceSilent,  // the link exists, but its WireGuard device (UAPI socket, genetlink) fails
};

struct InterfaceProbe {
    InterfaceCondition condition = InterfaceCondition::kHealthy;
    std::string detail;  // the failing call's own text (kDeviceSilent)
};

// One link lookup and one get() on `device`. Throws only when netlink itself fails.
InterfaceProbe probe_interface(const std::string& name, wg::WireGuardDevice& device);

enum class InterfaceRepair {
    kNone,
    kCreate,            // nothing of the interface is left: create it again
    kRemoveThenCreate,  // remove what is left (the link, a wireguard-go), then create it
    kReportOnly,        // not ours to delete: report it and leave it alone
};

// Only an interface this daemon (or an earlier run of it) created may be deleted: deleting
// the link is what stops a wireguard-go whose socket is gone. An adopted interface whose link
// is gone altogether has nothing left to delete, so it is created like at start.
InterfaceRepair choose_interface_repair(InterfaceCondition condition, bool created_by_wgmesh);

// The operator's line for a broken interface, without the action taken.
std::string describe_interface_fault(const std::string& name, const InterfaceProbe& probe);

// One fault episode: from the first check that finds the interface broken until one finds it
// healthy (or a repair succeeds). Keeps the log to one line per distinct problem per episode.
class FaultEpisode {
  public:
    // True when `message` should be logged: the episode starts now or its message changed.
    bool report(const std::string& message);
    // Ends the episode; true when there was one.
    bool clear();
    bool active() const { return last_.has_value(); }
    // The problem of the current episode; nullopt when there is none.
    const std::optional<std::string>& message() const { return last_; }

  private:
    std::optional<std::string> last_;
};

}  // namespace wgmesh::cli
