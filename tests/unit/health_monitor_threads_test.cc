// The health monitor's thread against the loop thread (cycles, the eventfd wake-up) and the
// control thread (statuses): a peer whose probes fail goes offline, the loop is woken, and
// the next cycle drops its network; an answer brings it back. Run under TSan (label
// "threads"); the waits only catch a hang.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "mesh/derived_keys.h"
#include "mesh/mesh_address.h"
#include "tools/wgmesh/daemon/health_monitor.h"

namespace wgmesh {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "health-monitor-threads-secret-0123456789";
const auto kNetwork = netlink::Prefix::parse_or_throw("172.16.9.0/24");

class NullDevice : public wg::WireGuardDevice {
  public:
    const std::string& interface_name() const override { return name_; }
    wg::DeviceConfig get() override { return {}; }
    void apply(const wg::DeviceConfig&) override {}

  private:
    std::string name_ = "wghealth";
};
class RecordingRoutes : public netlink::RouteTable {
  public:
    netlink::RouteSyncReport sync(const std::vector<netlink::Route>& desired) override {
        std::lock_guard lock(mutex);
        last = desired;
        return {};
    }
    std::mutex mutex;
    std::vector<netlink::Route> last;
};
class NullForwarding : public netlink::Forwarding {
  public:
    netlink::ForwardingEnsured ensure() override { return {}; }
    void remove() override {}
};
class NullAddresses : public netlink::AddressSet {
  public:
    std::vector<netlink::InterfaceAddress> list() override { return {}; }
    void replace(const std::optional<netlink::InterfaceAddress>&,
                 const netlink::InterfaceAddress&) override {}
};
class SwitchableProber : public mesh::PeerProber {
  public:
    std::vector<mesh::ProbeOutcome> probe(std::span<const mesh::ProbeTarget> targets) override {
        std::vector<mesh::ProbeOutcome> outcomes;
        for (const auto& target : targets) {
            outcomes.push_back({target.peer, answering.load(), 1ms, answering ? "" : "timed out"});
        }
        return outcomes;
    }
    void close_sessions_except(const mesh::KeySet&) override {}
    std::atomic<bool> answering{false};
};

bool wait_readable(int fd) {
    pollfd pfd{fd, POLLIN, 0};
    return ::poll(&pfd, 1, 60000) == 1;
}

TEST(HealthMonitorThreads, OfflineWakesTheLoopWhoseNextCycleDropsTheNetworkAndBack) {
    const auto keys = mesh::derive_keys(kSecret);
    const mesh::MeshAddressing addressing(kSecret, keys);
    const auto local_private = wg::Key::generate_private();
    const auto local = local_private.public_key();
    const auto dir = std::filesystem::temp_directory_path() /
                     ("wgmesh-health-threads-" + std::to_string(::getpid()));
    // The peer was last seen a minute ago: active, and due for probes (unseen over 45 s).
    std::atomic<std::int64_t> clock_seconds{1'700'000'000};
    mesh::PeerStore store(
        [&clock_seconds] { return mesh::Clock::time_point(std::chrono::seconds(clock_seconds)); });
    NullDevice device;
    RecordingRoutes routes;
    NullForwarding forwarding;
    NullAddresses addresses;
    mesh::CollisionResolver resolver(local, addressing, addresses, dir / "wghealth.nonce",
                                     [](std::string_view) {});
    mesh::RelayPolicy policy(mesh::LocalRelayView{local, false, false, {}, {}});
    mesh::LocalNode node;
    node.private_key = local_private;
    node.public_key = local;
    mesh::Reconciler reconciler(store, device, routes, forwarding, resolver, policy, node);
    mesh::Peer peer;
    peer.wg_pubkey = wg::Key::generate_private().public_key();
    peer.mesh_ip = addressing.mesh_ip(peer.wg_pubkey);
    peer.endpoint = netlink::SocketAddress::parse("198.51.100.1:51820");
    peer.routable_networks = {kNetwork};
    ASSERT_TRUE(store.update(peer, "static").accepted());
    clock_seconds += 60;
    const auto routed = [&] {
        reconciler.run_cycle();
        std::lock_guard lock(routes.mutex);
        return routes.last.size() == 1;
    };
    ASSERT_TRUE(routed());

    SwitchableProber prober;
    cli::HealthMonitor monitor(
        store, reconciler, prober, [&resolver] { return resolver.expected_mesh_ips(); }, local,
        false, 5ms);
    std::atomic<bool> stop{false};
    std::thread control([&] {
        while (!stop) {
            monitor.health().statuses();
        }
    });
    monitor.start();

    // The loop thread's part: wait for the wake-up, then run the cycle it asks for.
    ASSERT_TRUE(wait_readable(monitor.fd())) << "never went offline";
    EXPECT_TRUE(monitor.take());
    EXPECT_EQ(monitor.health().offline(), mesh::KeySet{peer.wg_pubkey});
    EXPECT_FALSE(routed());
    EXPECT_EQ(monitor.health().statuses().at(peer.wg_pubkey).verdict,
              mesh::HealthVerdict::kOffline);
    // Never evicted.
    EXPECT_TRUE(store.get(peer.wg_pubkey).has_value());

    prober.answering = true;
    ASSERT_TRUE(wait_readable(monitor.fd())) << "never came back";
    EXPECT_TRUE(monitor.take());
    EXPECT_TRUE(routed());
    EXPECT_EQ(store.get(peer.wg_pubkey)->latency, 1ms);

    const auto stopping = std::chrono::steady_clock::now();
    monitor.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, 30s);
    stop = true;
    control.join();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace wgmesh
