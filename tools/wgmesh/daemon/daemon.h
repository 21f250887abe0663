// The mesh daemon behind `wgmesh join`: sets the node up (interface, key, addresses, cache),
// then runs the reconcile loop on one thread, the only writer of kernel state, until SIGTERM.
// The loop waits on signals, store changes and the timers; see docs/daemon.md.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "mesh/collisions.h"
#include "mesh/control_methods.h"
#include "mesh/reconciler.h"
#include "netlink/address_set.h"
#include "netlink/ip_address.h"
#include "service/join_options.h"
#include "tools/wgmesh/daemon/interface_repair.h"
#include "tools/wgmesh/daemon/interface_state.h"
#include "tools/wgmesh/daemon/kernel_watch.h"
#include "tools/wgmesh/daemon/observability.h"
#include "tools/wgmesh/daemon/swappable_device.h"
#include "wg/device_factory.h"

namespace wgmesh::cli {

struct DaemonSettings {
    service::JoinOptions options;
    std::string secret;  // parsed (mesh::parse_secret)
    std::filesystem::path control_socket;
    std::chrono::milliseconds reconcile_interval{5000};
    // The backstop: a full resync of everything owned, whatever the monitor said.
    std::chrono::milliseconds resync_interval{60000};
    // Off: no kernel monitor, every cycle verifies everything (the polling baseline).
    bool kernel_monitor = true;
    // Off: peers are never probed nor marked offline (docs/daemon.md, "Peer health"); our
    // probe server still answers, so Go peers keep us.
    bool peer_probe = true;
    // The monitor's receive buffer in bytes; 0: its default (4 MiB). A burst larger than
    // the buffer loses events, which costs a full resync.
    int kernel_monitor_buffer = 0;
};

class Daemon {
  public:
    explicit Daemon(DaemonSettings settings);

    // Runs until SIGTERM or SIGINT; returns the exit code. Throws when the node cannot start
    // (another daemon answers on the socket, the interface cannot be created, ...).
    int run();

  private:
    wg::DeviceOptions device_options() const;
    void set_up_interface();
    // Before every cycle: finds a vanished or silent interface and recreates it when it is
    // ours (see interface_repair.h).
    // Whether the interface answered as ours; repairs or reports it when not.
    bool check_interface(mesh::CollisionResolver& resolver, netlink::AddressSet& addresses);
    void recreate_interface(InterfaceRepair repair, mesh::CollisionResolver& resolver,
                            netlink::AddressSet& addresses);
    void save_interface_state();
    void remove_leftover_temp_files() const;
    void set_up_addresses(mesh::CollisionResolver& resolver);
    void record_address_change(const std::optional<netlink::InterfaceAddress>& previous,
                               const netlink::InterfaceAddress& replacement);
    // One cycle, its repair bookkeeping and the observability after it. kFull: the store,
    // WireGuard and the kernel state. kRepair: kernel events alone woke the loop; only the
    // owned kernel state they touched is put back (Reconciler::run_repair).
    enum class CycleKind { kFull, kRepair };
    void run_cycle(mesh::Reconciler& reconciler, mesh::CollisionResolver& resolver,
                   netlink::AddressSet& addresses, KernelWatch& watch, Observability& observability,
                   CycleKind kind);

    service::JoinOptions options_;
    std::string secret_;
    std::filesystem::path socket_path_;
    std::chrono::milliseconds interval_;
    std::chrono::milliseconds resync_interval_;
    bool kernel_monitor_;
    bool peer_probe_;
    int kernel_monitor_buffer_;

    // What the Reconciler drives; its target is replaced when the interface is recreated.
    SwappableDevice device_;
    std::optional<netlink::InterfaceAddress> mesh_v6_;
    FaultEpisode interface_fault_;
    // What `status` shows of it: written by the loop thread, read by the control thread.
    mutable std::mutex health_mutex_;
    mesh::InterfaceHealth health_;
    std::filesystem::path state_path_;
    InterfaceState state_;
    std::optional<std::string> state_write_error_;  // the last failed state write
    std::string last_summary_;
};

}  // namespace wgmesh::cli
