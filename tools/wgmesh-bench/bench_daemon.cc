// The daemon group: CPU of one reconcile cycle with 1000 peers advertising 10k routes (the
// real Reconciler, the real KernelRouteTable and nftables forwarding on a veth in the bench
// namespace; an in-memory WireGuard device, so the figure is wgmesh's own work and not
// wireguard-go's), and the peak RSS of a real `wgmesh join` daemon holding 1000 peers.
// Like the routes group, it refuses to run in the namespace of PID 1 (use tools/bench).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mesh/collisions.h"
#include "mesh/control_server.h"
#include "mesh/derived_keys.h"
#include "mesh/mesh_address.h"
#include "mesh/peer_store.h"
#include "mesh/reconciler.h"
#include "mesh/relay_policy.h"
#include "mesh/secret.h"
#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/nft_forwarding.h"
#include "netlink/route_table.h"
#include "netlink/socket.h"
#include "tools/wgmesh-bench/bench_support.h"
#include "tools/wgmesh-bench/benchmarks.h"

namespace wgmesh::bench {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kSecret = "wgmesh-bench-daemon-secret-0123456789";
constexpr const char* kInterface = "wgmbd0";
constexpr const char* kPeerInterface = "wgmbd0p";
constexpr std::size_t kPeers = 1000;
constexpr std::size_t kNetworksPerPeer = 10;

void refuse_host_namespace() {
    struct stat own {};
    struct stat init {};
    if (stat("/proc/self/ns/net", &own) != 0 || stat("/proc/1/ns/net", &init) != 0) {
        return;
    }
    if (own.st_ino == init.st_ino && own.st_dev == init.st_dev) {
        throw std::runtime_error(
            "the daemon benchmark changes links and routes: run it in a private network "
            "namespace (tools/bench daemon)");
    }
}

// Network j of peer i: distinct /24s in 172.16.0.0/12, far from the 10.x mesh.
netlink::Prefix peer_network(std::size_t i, std::size_t j) {
    const std::size_t n = i * kNetworksPerPeer + j;
    const auto address = netlink::IpAddress::v4(172, static_cast<std::uint8_t>(16 + (n >> 8)),
                                                static_cast<std::uint8_t>(n & 255), 0);
    return netlink::Prefix(address, 24);
}

// CLOCK_THREAD_CPUTIME_ID reads the scheduler's nanosecond runtime; getrusage() is
// tick-based on kernels without full dynticks accounting, which rounds a 6 ms cycle to 4 or 8.
double thread_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// WireGuard without a device: the cycle's own work (desired config, diff input) is measured,
// not a userspace implementation's.
class MemoryDevice : public wg::WireGuardDevice {
  public:
    const std::string& interface_name() const override { return name_; }
    wg::DeviceConfig get() override { return config_; }
    void apply(const wg::DeviceConfig& desired) override { config_ = desired; }

  private:
    std::string name_ = kInterface;
    wg::DeviceConfig config_;
};

// The local address never changes in this benchmark; a lost collision is only recorded.
class StaticAddressSet : public netlink::AddressSet {
  public:
    std::vector<netlink::InterfaceAddress> list() override { return addresses_; }
    void replace(const std::optional<netlink::InterfaceAddress>& previous,
                 const netlink::InterfaceAddress& replacement) override {
        if (previous) {
            std::erase(addresses_, *previous);
        }
        addresses_.push_back(replacement);
    }

  private:
    std::vector<netlink::InterfaceAddress> addresses_;
};

class CycleLink {
  public:
    explicit CycleLink(const netlink::InterfaceAddress& address) {
        netlink::delete_link(socket_, kInterface);
        netlink::create_veth_pair(socket_, kInterface, kPeerInterface);
        netlink::set_link_up(socket_, kInterface, true);
        netlink::set_link_up(socket_, kPeerInterface, true);
        netlink::add_address(socket_, netlink::link_index(socket_, kInterface), address);
    }
    ~CycleLink() {
        try {
            netlink::delete_link(socket_, kInterface);
        } catch (...) {
        }
    }
    CycleLink(const CycleLink&) = delete;
    CycleLink& operator=(const CycleLink&) = delete;

  private:
    netlink::NetlinkSocket socket_{NETLINK_ROUTE};
};

}  // namespace

void bench_reconcile_cycle(const BenchOptions& options, BenchReport& report) {
    const std::size_t peers = options.quick ? 100 : kPeers;
    const std::string secret = mesh::parse_secret(kSecret).value;
    const auto keys = mesh::derive_keys(secret);
    const mesh::MeshAddressing addressing(secret, keys);
    const wg::Key local_private = bench_private_key(0);
    const wg::Key local_public = local_private.public_key();
    const auto local_ip = addressing.mesh_ip(local_public);
    CycleLink link(addressing.interface_address(local_ip));

    mesh::PeerStore store;
    for (std::size_t i = 1; i <= peers; ++i) {
        mesh::Peer peer;
        peer.wg_pubkey = bench_private_key(i).public_key();
        peer.mesh_ip = addressing.mesh_ip(peer.wg_pubkey);
        peer.endpoint = netlink::SocketAddress{
            netlink::IpAddress::v4(192, 0, static_cast<std::uint8_t>(2 + i / 250),
                                   static_cast<std::uint8_t>(1 + i % 250)),
            51820};
        for (std::size_t j = 0; j < kNetworksPerPeer; ++j) {
            peer.routable_networks.push_back(peer_network(i, j));
        }
        if (!store.update(peer, "static").accepted()) {
            throw std::runtime_error("the peer store refused bench peer " + std::to_string(i));
        }
    }

    MemoryDevice device;
    netlink::KernelRouteTable routes(kInterface, 254, 150);
    netlink::NftForwarding forwarding(kInterface);
    StaticAddressSet addresses;
    const auto nonce_dir = fs::temp_directory_path() / ("wgmesh-bench-" + std::to_string(getpid()));
    fs::create_directories(nonce_dir);
    mesh::CollisionResolver resolver(local_public, addressing, addresses, nonce_dir / "nonce", {});
    mesh::RelayPolicy relay_policy(mesh::LocalRelayView{local_public, false, false, {}, {}});
    mesh::LocalNode local;
    local.private_key = local_private;
    local.public_key = local_public;
    local.listen_port = 51820;
    local.preshared_key = keys.preshared_key();
    local.mesh_networks = {addressing.network_v4()};
    mesh::Reconciler reconciler(store, device, routes, forwarding, resolver, relay_policy, local,
                                {true});

    const std::string job = "daemon: reconcile cycle CPU, " + std::to_string(peers) + " peers / " +
                            std::to_string(peers * kNetworksPerPeer) + " routes";
    auto wall_start = std::chrono::steady_clock::now();
    double cpu_start = thread_cpu_seconds();
    const auto first = reconciler.run_cycle();
    const double first_cpu = thread_cpu_seconds() - cpu_start;
    const double first_wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (!first.ok() || first.routes.added < first.desired_routes || first.desired_routes == 0) {
        fs::remove_all(nonce_dir);
        throw std::runtime_error("first cycle: " + std::to_string(first.routes.added) + " of " +
                                 std::to_string(first.desired_routes) + " routes added" +
                                 (first.errors.empty() ? "" : ", " + first.errors.front()));
    }
    report.add({job, "first cycle (all routes added)", first_cpu, 1, false,
                "CPU s per cycle; wall " + std::to_string(static_cast<int>(first_wall * 1000)) +
                    " ms; " + std::to_string(first.desired_routes) +
                    " routes; in-memory WireGuard device"});

    // The first cycle's collision check gives the losers among the 1000 derived mesh IPs
    // their expected addresses; the second cycle moves their routes. Then nothing changes.
    reconciler.run_cycle();
    // Median CPU of repeated cycles that must change nothing; `full_resync` marks every owned
    // kind unverified first (start, lost events, the backstop timer), so each cycle reads the
    // routes, addresses and nft rules back although nothing changed.
    const auto measure = [&](const char* row, bool full_resync, const char* target) {
        std::vector<double> cpu;
        std::vector<double> wall;
        for (int rep = 0; rep < (options.quick ? 3 : 7); ++rep) {
            if (full_resync) {
                reconciler.mark_unverified(mesh::OwnedState::all());
            }
            wall_start = std::chrono::steady_clock::now();
            cpu_start = thread_cpu_seconds();
            const auto cycle = reconciler.run_cycle();
            cpu.push_back(thread_cpu_seconds() - cpu_start);
            wall.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start)
                    .count());
            if (!cycle.ok() || cycle.routes.added != 0 || cycle.routes.removed != 0 ||
                cycle.verified.routes != full_resync) {
                fs::remove_all(nonce_dir);
                std::string what = row;
                what += ": a cycle changed routes (+";
                what += std::to_string(cycle.routes.added);
                what += "/-";
                what += std::to_string(cycle.routes.removed);
                what += "), failed, or read back what it should not have";
                if (!cycle.errors.empty()) {
                    what += ": ";
                    what += cycle.errors.front();
                }
                throw std::runtime_error(what);
            }
        }
        std::sort(cpu.begin(), cpu.end());
        std::sort(wall.begin(), wall.end());
        std::string note = "CPU s per cycle; wall ";
        note += std::to_string(static_cast<int>(wall[wall.size() / 2] * 1000));
        note += " ms; ";
        note += target;
        report.add({job, row, cpu[cpu.size() / 2], 1, false, note});
    };
    measure("no-change cycle (median)", false, "target <= 5 ms CPU");
    measure("full resync cycle (median)", true,
            "everything marked unverified; target <= 20 ms CPU");
    forwarding.remove();
    fs::remove_all(nonce_dir);
}

namespace {

void bench_daemon_rss(const BenchOptions& options, BenchReport& report) {
    const std::size_t peers = options.quick ? 100 : kPeers;
    const std::string interface = "wgmbj" + std::to_string(getpid() % 100000);
    std::string dir_template = (fs::temp_directory_path() / "wgmesh-bench-rss.XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    const fs::path dir = dir_template;
    // Endpoints on this namespace's loopback where nothing listens: handshakes are refused
    // at once instead of timing out, which keeps wireguard-go responsive (SPEC 11's note).
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 1; i <= peers; ++i) {
        nlohmann::json networks = nlohmann::json::array();
        for (std::size_t j = 0; j < kNetworksPerPeer; ++j) {
            networks.push_back(peer_network(i, j).to_string());
        }
        list.push_back({{"wg_pubkey", bench_private_key(i).public_key().to_base64()},
                        {"endpoint", "127.0.0.1:" + std::to_string(20000 + i)},
                        {"routable_networks", networks}});
    }
    std::ofstream(dir / "peers.json") << list.dump();

    pid_t pid = -1;
    try {
        pid = spawn_join(
            {"--interface", interface, "--state-dir", dir.string(), "--peers-file",
             (dir / "peers.json").string(), "--control-socket", (dir / "control.sock").string(),
             "--no-ipv6", "--log-level", "warn", "--wireguard-backend", "userspace",
             // Fake peers that never answer: see bench_repair.cc.
             "--no-peer-probe"},
            kSecret, dir / "daemon.log");
    } catch (const std::exception&) {
        fs::remove_all(dir);
        throw;
    }

    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + 120s;
    std::size_t configured = 0;
    std::size_t routes = 0;
    std::string error;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            error = "the daemon exited early";
            break;
        }
        try {
            const auto response =
                mesh::control_call(dir / "control.sock", {"status", nlohmann::json::object()}, 5s);
            const auto& cycle = response.at("result").at("last_cycle");
            if (cycle.is_object()) {
                configured = cycle.value("configured_peers", std::size_t{0});
                routes = cycle.value("routes", std::size_t{0});
                if (configured >= peers && routes >= peers * kNetworksPerPeer) {
                    break;
                }
            }
        } catch (const std::exception&) {
            // not up yet
        }
        std::this_thread::sleep_for(200ms);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    long daemon_kib = 0;
    long userspace_kib = 0;
    if (pid > 0) {
        daemon_kib = peak_rss_kib(pid);
        for (const pid_t child : pids_named("wireguard-go", interface)) {
            userspace_kib = std::max(userspace_kib, peak_rss_kib(child));
        }
        ::kill(pid, SIGTERM);
        int status = 0;
        ::waitpid(pid, &status, 0);
    }
    {
        netlink::NetlinkSocket socket(NETLINK_ROUTE);
        netlink::delete_link(socket, interface);
    }
    fs::remove_all(dir);
    if (!error.empty() || configured < peers) {
        throw std::runtime_error(
            "daemon with " + std::to_string(peers) + " peers: " +
            (error.empty() ? "only " + std::to_string(configured) + " peers configured after 120 s"
                           : error));
    }
    std::ostringstream note;
    note.precision(1);
    note << std::fixed << "peak RSS (VmHWM) " << static_cast<double>(daemon_kib) / 1024.0
         << " MiB; wireguard-go " << static_cast<double>(userspace_kib) / 1024.0
         << " MiB; time = start to " << configured << " peers and " << routes << " routes";
    report.add({"daemon: wgmesh join with " + std::to_string(peers) + " peers", "wgmesh join",
                seconds, static_cast<double>(peers), false, note.str()});
}

}  // namespace

void bench_daemon(const BenchOptions& options, BenchReport& report) {
    refuse_host_namespace();
    bench_reconcile_cycle(options, report);
    bench_daemon_rss(options, report);
}

}  // namespace wgmesh::bench
