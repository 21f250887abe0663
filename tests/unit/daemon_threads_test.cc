// The daemon's threads meet in the store, the reconciler's last report and the control
// methods: cycles on the loop thread, control requests on the socket thread, peer updates
// from sources, and the store waker. Run under TSan (label "threads").
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "mesh/control_methods.h"
#include "mesh/derived_keys.h"
#include "mesh/reconciler.h"
#include "tools/wgmesh/daemon/plumbing.h"

namespace wgmesh {
namespace {

using namespace std::chrono_literals;
using mesh::Peer;

constexpr const char* kSecret = "daemon-threads-test-secret-0123456789";

class NullDevice : public wg::WireGuardDevice {
  public:
    const std::string& interface_name() const override { return name_; }
    wg::DeviceConfig get() override { return {}; }
    void apply(const wg::DeviceConfig& desired) override { peers_ = desired.peers.size(); }

  private:
    std::string name_ = "wgthreads";
    std::size_t peers_ = 0;
};
class NullRoutes : public netlink::RouteTable {
  public:
    netlink::RouteSyncReport sync(const std::vector<netlink::Route>&) override { return {}; }
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

TEST(DaemonThreads, CyclesControlRequestsAndPeerUpdatesRunConcurrently) {
    const auto keys = mesh::derive_keys(kSecret);
    const mesh::MeshAddressing addressing(kSecret, keys);
    const auto local_private = wg::Key::generate_private();
    const auto local = local_private.public_key();
    const auto dir = std::filesystem::temp_directory_path() /
                     ("wgmesh-daemon-threads-" + std::to_string(::getpid()));
    mesh::PeerStore store;
    mesh::PeerCache cache(dir, "wgthreads", [](std::string_view) {});
    NullDevice device;
    NullRoutes routes;
    NullForwarding forwarding;
    NullAddresses addresses;
    mesh::CollisionResolver resolver(local, addressing, addresses, dir / "wgthreads.nonce",
                                     [](std::string_view) {});
    mesh::RelayPolicy policy(mesh::LocalRelayView{local, false, false, {}, {}});
    mesh::LocalNode node;
    node.private_key = local_private;
    node.public_key = local;
    mesh::Reconciler reconciler(store, device, routes, forwarding, resolver, policy, node);

    mesh::ControlContext context;
    context.interface = "wgthreads";
    context.public_key = local;
    context.store = &store;
    context.cache = &cache;
    context.addressing = &addressing;
    context.local_mesh_ip = [&resolver] { return resolver.local_mesh_ip(); };
    context.expected_mesh_ips = [&resolver] { return resolver.expected_mesh_ips(); };
    context.last_cycle = [&reconciler] { return reconciler.last_report(); };
    context.cycles = [&reconciler] { return reconciler.cycles(); };
    mesh::ControlMethods methods(std::move(context));

    std::vector<wg::Key> keys_pool;
    for (int i = 0; i < 32; ++i) {
        keys_pool.push_back(wg::Key::generate_private().public_key());
    }
    std::atomic<bool> stop{false};
    std::thread loop([&] {
        while (!stop) {
            reconciler.run_cycle();
            methods.refresh();
        }
    });
    std::thread control([&] {
        std::size_t i = 0;
        while (!stop) {
            const auto& key = keys_pool[i++ % keys_pool.size()];
            methods.handle(
                {"peer.add", {{"wg_pubkey", key.to_base64()}, {"endpoint", "192.0.2.1:51820"}}});
            methods.handle({"status", nlohmann::json::object()});
            methods.handle({"peers", nlohmann::json::object()});
            if (i % 3 == 0) {
                methods.handle({"peer.remove", {{"wg_pubkey", key.to_base64()}}});
            }
        }
    });
    std::thread source([&] {
        std::size_t i = 0;
        while (!stop) {
            Peer peer;
            peer.wg_pubkey = keys_pool[(i * 7) % keys_pool.size()];
            peer.mesh_ip = addressing.mesh_ip(peer.wg_pubkey);
            peer.endpoint = netlink::SocketAddress::parse("198.51.100.1:51820");
            peer.routable_networks = {netlink::Prefix::parse_or_throw("172.16.0.0/24")};
            store.update(peer, "static");
            if (++i % 5 == 0) {
                store.remove(peer.wg_pubkey);
            }
        }
    });
    std::this_thread::sleep_for(500ms);
    // Half a second of contention, and at least one finished cycle: a loaded TSan run may
    // not have scheduled the loop thread yet. The bound only catches a hang.
    const auto limit = std::chrono::steady_clock::now() + 60s;
    while (reconciler.cycles() == 0 && std::chrono::steady_clock::now() < limit) {
        std::this_thread::sleep_for(1ms);
    }
    stop = true;
    loop.join();
    control.join();
    source.join();
    EXPECT_GT(reconciler.cycles(), 0u);
    EXPECT_TRUE(reconciler.last_report().has_value());
    std::filesystem::remove_all(dir);
}

TEST(DaemonThreads, StoreWakerSignalsChangesAndStopsPromptly) {
    mesh::PeerStore store;
    cli::StoreWaker waker(store);
    Peer peer;
    peer.wg_pubkey = wg::Key::generate_private().public_key();
    std::thread writer([&] { store.update(peer, "static"); });
    writer.join();
    pollfd pfd{waker.fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 60000), 1);  // the writer has finished: ready at once
    EXPECT_TRUE(waker.take());
    EXPECT_FALSE(waker.take());
    // "Promptly" means within one poll of the subscription (250 ms), not a hang; the bound
    // is generous because a loaded TSan run can deschedule the waker thread for seconds.
    const auto start = std::chrono::steady_clock::now();
    waker.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
}

}  // namespace
}  // namespace wgmesh
