// The daemon's peer-health thread: every second it ticks mesh::PeerHealth with the store's
// active peers and the last cycle's handshakes and relays, records the probes' round trips as
// the peers' latency, and hands a changed offline set to the Reconciler, waking the loop
// through an eventfd so that routes and WireGuard switch in the very next cycle. The loop
// thread stays the only writer of kernel state; a probe round with silent peers (a few
// mesh::kProbeTimeout) never holds the loop up.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "mesh/peer_health.h"
#include "mesh/peer_store.h"
#include "mesh/reconciler.h"
#include "netlink/unique_fd.h"
#include "wg/key.h"

namespace wgmesh::cli {

class HealthMonitor {
  public:
    // The prober must outlive the monitor; `interval` is mesh::kHealthCheckInterval except
    // in tests.
    // `expected_mesh_ips`: CollisionResolver::expected_mesh_ips(), thread-safe.
    HealthMonitor(mesh::PeerStore& store, mesh::Reconciler& reconciler, mesh::PeerProber& prober,
                  std::function<mesh::ExpectedMeshIps()> expected_mesh_ips, wg::Key local_key,
                  bool no_ipv6, std::chrono::milliseconds interval = mesh::kHealthCheckInterval);
    ~HealthMonitor();  // stop()
    HealthMonitor(const HealthMonitor&) = delete;
    HealthMonitor& operator=(const HealthMonitor&) = delete;

    void start();
    // Waits for a probe round in progress (at most a few mesh::kProbeTimeout).
    void stop();

    // Readable when the offline set changed; take() clears it and says whether it had.
    int fd() const { return wake_.get(); }
    bool take() const;

    // Thread-safe, for the control socket.
    const mesh::PeerHealth& health() const { return health_; }

  private:
    void run();
    void tick();

    mesh::PeerStore& store_;
    mesh::Reconciler& reconciler_;
    std::function<mesh::ExpectedMeshIps()> expected_mesh_ips_;
    const wg::Key local_key_;
    const bool no_ipv6_;
    const std::chrono::milliseconds interval_;
    mesh::PeerHealth health_;
    netlink::UniqueFd wake_;

    std::mutex mutex_;  // guards stopping_
    std::condition_variable stop_cv_;
    bool stopping_ = false;
    std::optional<std::string> last_error_;  // health thread only: logged once until it changes
    std::thread thread_;
};

}  // namespace wgmesh::cli
