#include "tools/wgmesh/daemon/health_monitor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

#include "mesh/log.h"

namespace wgmesh::cli {

HealthMonitor::HealthMonitor(mesh::PeerStore& store, mesh::Reconciler& reconciler,
                             mesh::PeerProber& prober,
                             std::function<mesh::ExpectedMeshIps()> expected_mesh_ips,
                             wg::Key local_key, bool no_ipv6, std::chrono::milliseconds interval)
    : store_(store),
      reconciler_(reconciler),
      expected_mesh_ips_(std::move(expected_mesh_ips)),
      local_key_(std::move(local_key)),
      no_ipv6_(no_ipv6),
      interval_(interval),
      health_(prober, [&store] { return store.now(); }),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!wake_) {
        throw std::system_error(errno, std::generic_category(),
                                "cannot create the health monitor's eventfd");
    }
}

HealthMonitor::~HealthMonitor() {
    stop();
}

void HealthMonitor::start() {
    if (!thread_.joinable()) {
        thread_ = std::thread([this] { run(); });
    }
}

void HealthMonitor::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

bool HealthMonitor::take() const {
    std::uint64_t count = 0;
    return ::read(wake_.get(), &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count)) &&
           count > 0;
}

void HealthMonitor::run() {
    auto next = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!stop_cv_.wait_until(lock, next, [this] { return stopping_; })) {
        lock.unlock();
        // Rounds start once a second; a round slower than that (silent peers) is followed
        // by the next one at once, never by a burst of catch-up rounds.
        next = std::max(next + interval_, std::chrono::steady_clock::now());
        tick();
        lock.lock();
    }
}

void HealthMonitor::tick() {
    try {
        const auto peers = store_.active();
        const auto cycle = reconciler_.last_report();
        const auto expected = expected_mesh_ips_();
        mesh::HealthTickInput input;
        input.local_key = local_key_;
        input.peers = peers;
        input.handshakes = cycle ? &cycle->handshakes : nullptr;
        input.relays = cycle ? &cycle->relays : nullptr;
        input.expected_mesh_ips = &expected;
        input.no_ipv6 = no_ipv6_;
        auto result = health_.tick(input);
        for (const auto& [key, latency] : result.latencies) {
            store_.record_latency(key, latency);
        }
        for (const auto& event : result.events) {
            mesh::log_info(event);
        }
        if (result.offline_changed) {
            reconciler_.set_offline(std::move(result.offline));
            const std::uint64_t one = 1;
            [[maybe_unused]] const auto written = ::write(wake_.get(), &one, sizeof(one));
        }
        last_error_.reset();
    } catch (const std::exception& e) {
        // Retried next second; said again only when the reason changes.
        if (last_error_ != e.what()) {
            last_error_ = e.what();
            mesh::log_error(std::string("peer health check failed: ") + e.what());
        }
    }
}

}  // namespace wgmesh::cli
