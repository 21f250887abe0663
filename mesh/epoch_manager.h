// Relay epochs (SPEC section 7): owns the DandelionRouter and rotates its epoch on a
// thread of its own, independent of the reconcile loop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "mesh/dandelion.h"

namespace wgmesh::mesh {

inline constexpr auto kEpochDuration = std::chrono::minutes(10);

class EpochManager {
  public:
    // Returns the peers eligible as relays (the store's active peers); called on the
    // rotation thread, so it must be thread-safe.
    using PeerSource = std::function<std::vector<Peer>()>;

    EpochManager(const EpochSeed& seed, wg::Key self, PeerSource peers,
                 std::chrono::milliseconds interval = kEpochDuration,
                 DandelionRouter::FluffCoin coin = {});
    ~EpochManager();  // stop()
    EpochManager(const EpochManager&) = delete;
    EpochManager& operator=(const EpochManager&) = delete;

    // Starts the rotation thread: epoch 1 at once, then one more every interval.
    // Throws std::logic_error when called twice.
    void start();
    // Wakes and joins the thread; returns within one rotation's time. Idempotent.
    void stop();

    DandelionRouter& router() { return router_; }
    const DandelionRouter& router() const { return router_; }
    DandelionRouter& GetRouter() { return router_; }  // the Go daemon's name for it
    Epoch current_epoch() const { return router_.epoch(); }

  private:
    void run();
    void rotate_now();

    DandelionRouter router_;
    PeerSource peers_;
    const std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool started_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace wgmesh::mesh
