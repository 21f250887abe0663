#include "tools/wgmesh/daemon/daemon.h"

#include <signal.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mesh/control_server.h"
#include "mesh/derived_keys.h"
#include "mesh/epoch_manager.h"
#include "mesh/log.h"
#include "mesh/mesh_address.h"
#include "mesh/node_key.h"
#include "mesh/nonce_file.h"
#include "mesh/peer_cache.h"
#include "mesh/peer_store.h"
#include "mesh/peers_file.h"
#include "netlink/atomic_file.h"
#include "netlink/link.h"
#include "netlink/nft_forwarding.h"
#include "netlink/nft_forwarding_plan.h"
#include "netlink/route_table.h"
#include "netlink/socket.h"
#include "tools/wgmesh/daemon/health_monitor.h"
#include "tools/wgmesh/daemon/observability.h"
#include "tools/wgmesh/daemon/plumbing.h"
#include "tools/wgmesh/daemon/probe_client.h"
#include "tools/wgmesh/daemon/probe_server.h"
#include "tools/wgmesh/daemon/service_notify.h"

namespace wgmesh::cli {

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kChangeDebounce = 200ms;
constexpr auto kHousekeepingInterval = 60s;
constexpr std::uint8_t kMeshIpv6PrefixLength = 64;

}  // namespace

Daemon::Daemon(DaemonSettings settings)
    : options_(std::move(settings.options)),
      secret_(std::move(settings.secret)),
      socket_path_(std::move(settings.control_socket)),
      interval_(settings.reconcile_interval),
      resync_interval_(settings.resync_interval),
      kernel_monitor_(settings.kernel_monitor),
      peer_probe_(settings.peer_probe),
      kernel_monitor_buffer_(settings.kernel_monitor_buffer),
      device_(options_.interface) {}

wg::DeviceOptions Daemon::device_options() const {
    wg::DeviceOptions device_options;
    device_options.userspace_program = options_.userspace;
    // Validated with the options: one of the three names.
    device_options.backend = wg::parse_backend_choice(options_.wireguard_backend).value();
    return device_options;
}

void Daemon::set_up_interface() {
    auto ensured = wg::ensure_interface(options_.interface, device_options());
    device_.replace(std::move(ensured.device));
    const char* backend = ensured.backend == wg::Backend::kKernel ? "kernel" : "userspace";
    mesh::log_info(std::string(ensured.created ? "created" : "adopted") + " interface " +
                   options_.interface + " (" + backend + " WireGuard)");

    state_path_ = interface_state_path(options_.state_dir, options_.interface);
    try {
        state_ = read_interface_state(state_path_).value_or(InterfaceState{});
    } catch (const std::exception& e) {
        mesh::log_warning(std::string(e.what()) + "; starting a new one");
        state_ = {};
    }
    // An interface created by an earlier run and adopted now is still ours to remove.
    state_.created = state_.created || ensured.created;
    state_.backend = backend;
    save_interface_state();
}

void Daemon::save_interface_state() {
    // Only `wgmesh cleanup` needs this record: a read-only or full state dir must not stop
    // the mesh, so the failure is reported and the daemon carries on.
    try {
        write_interface_state(state_path_, state_);
        state_write_error_.reset();
    } catch (const std::exception& e) {
        // Said once per distinct failure: every address change retries the write.
        if (state_write_error_ != e.what()) {
            state_write_error_ = e.what();
            mesh::log_error(
                "cannot record the interface state (wgmesh cleanup will not know "
                "what to remove): " +
                *state_write_error_);
        }
    }
}

void Daemon::remove_leftover_temp_files() const {
    // Writers killed between creating and renaming their temporary file leave it behind;
    // only now, with no other daemon for this interface, is nobody else writing them.
    const std::filesystem::path dir = options_.state_dir;
    const auto& name = options_.interface;
    std::size_t removed = 0;
    try {
        for (const auto& path : {mesh::node_key_path(dir, name), mesh::nonce_file_path(dir, name),
                                 interface_state_path(dir, name)}) {
            removed += netlink::remove_leftover_temp_files(path);
        }
    } catch (const std::exception& e) {
        mesh::log_warning(std::string("cannot sweep leftover temporary files: ") + e.what());
    }
    if (removed > 0) {
        mesh::log_info("removed " + std::to_string(removed) +
                       " temporary file(s) left by an interrupted write in " + dir.string());
    }
}

void Daemon::record_address_change(const std::optional<netlink::InterfaceAddress>& previous,
                                   const netlink::InterfaceAddress& replacement) {
    auto& list = state_.addresses;
    if (previous) {
        std::erase(list, *previous);
    }
    if (std::find(list.begin(), list.end(), replacement) == list.end()) {
        list.push_back(replacement);
    }
    save_interface_state();
}

bool Daemon::check_interface(mesh::CollisionResolver& resolver, netlink::AddressSet& addresses) {
    InterfaceProbe probe;
    try {
        probe = probe_interface(options_.interface, device_);
    } catch (const std::exception& e) {
        // Netlink itself failing says nothing about the interface: leave it to the cycle.
        if (interface_fault_.report(e.what())) {
            mesh::log_error(std::string("cannot check interface ") + options_.interface + ": " +
                            e.what());
        }
        return false;
    }
    const auto repair = choose_interface_repair(probe.condition, state_.created);
    if (repair == InterfaceRepair::kNone) {
        if (interface_fault_.clear()) {
            mesh::log_info("interface " + options_.interface + " answers again");
        }
        return true;
    }
    const std::string fault = describe_interface_fault(options_.interface, probe);
    if (repair == InterfaceRepair::kReportOnly) {
        if (interface_fault_.report(fault)) {
            mesh::log_error(fault +
                            "; not recreating it: wgmesh did not create it (restart its WireGuard "
                            "implementation or remove it)");
        }
        return false;
    }
    if (interface_fault_.report(fault)) {
        mesh::log_error(fault + "; recreating");
    }
    recreate_interface(repair, resolver, addresses);
    return false;
}

void Daemon::recreate_interface(InterfaceRepair repair, mesh::CollisionResolver& resolver,
                                netlink::AddressSet& addresses) {
    try {
        if (repair == InterfaceRepair::kRemoveThenCreate) {
            // Deleting the TUN link is what makes a wireguard-go without a socket exit; a
            // leftover daemon is terminated.
            wg::remove_interface(options_.interface, device_options());
        }
        auto ensured = wg::ensure_interface(options_.interface, device_options());
        device_.replace(std::move(ensured.device));
        const char* backend = ensured.backend == wg::Backend::kKernel ? "kernel" : "userspace";
        if (ensured.created != state_.created || state_.backend != backend) {
            state_.created = state_.created || ensured.created;
            state_.backend = backend;
            save_interface_state();
        }
        // The collision resolver's address: it may have moved since start.
        ensure_addresses(addresses, state_.addresses, resolver.local_address(), mesh_v6_);
        netlink::NetlinkSocket socket;
        netlink::set_link_up(socket, options_.interface, true);
    } catch (const std::exception& e) {
        // Retried before the next cycle; logged again only when the reason changes.
        const std::string failure =
            "cannot recreate interface " + options_.interface + ": " + e.what();
        if (interface_fault_.report(failure)) {
            mesh::log_error(failure);
        }
        return;
    }
    interface_fault_.clear();
    {
        std::lock_guard lock(health_mutex_);
        ++health_.recreations;
    }
    mesh::log_info("recreated interface " + options_.interface +
                   "; this cycle restores its peers, routes and forwarding");
}

void Daemon::run_cycle(mesh::Reconciler& reconciler, mesh::CollisionResolver& resolver,
                       netlink::AddressSet& addresses, KernelWatch& watch,
                       Observability& observability, CycleKind kind) {
    const bool interface_answers = check_interface(resolver, addresses);
    {
        std::lock_guard lock(health_mutex_);
        health_.fault = interface_fault_.message();
    }
    const auto repair = watch.before_cycle(reconciler, SteadyClock::now());
    // A repair puts back what the kernel reported against the last cycle's decisions, which
    // saves the WireGuard read. A changed link may be a recreated one without its WireGuard
    // peers, and an interface that does not answer as ours needs the whole cycle.
    const bool link_changed = repair.full_resync_reason == "link changed";
    auto report = kind == CycleKind::kRepair && interface_answers && !link_changed
                      ? reconciler.run_repair()
                      : reconciler.run_cycle();
    watch.after_cycle(repair, report, SteadyClock::now());
    observability.after_cycle(report, repair.forwarding_path_changed);
    if (report.addresses_restored > 0) {
        mesh::log_info("put back " + std::to_string(report.addresses_restored) +
                       " mesh address(es) someone removed from " + options_.interface);
    }
    if (report.ip_forward_restored) {
        mesh::log_info("turned net.ipv4.ip_forward back on: someone switched it off");
    }
    const std::string summary = std::to_string(report.usable_peers) + " peers (" +
                                std::to_string(report.cached_peers) + " from cache), " +
                                std::to_string(report.configured_peers) + " configured, " +
                                std::to_string(report.relays.size()) + " relayed, " +
                                std::to_string(report.desired_routes) + " routes";
    if (summary != last_summary_) {
        mesh::log_info("mesh: " + summary);
        last_summary_ = summary;
    }
    if (report.local_address_changed) {
        mesh::log_warning("mesh address moved to " + report.local_address_changed->to_string() +
                          " after a collision");
    }
    mesh::log_debug("cycle: " + summary + ", +" + std::to_string(report.routes.added) + "/-" +
                    std::to_string(report.routes.removed) + " routes, " +
                    std::to_string(report.errors.size()) + " errors");
}

int Daemon::run() {
    // Before touching anything: a second daemon for the same interface would fight the first.
    if (daemon_answers(socket_path_)) {
        throw std::runtime_error("a wgmesh daemon for " + options_.interface +
                                 " is already running (it answers on " + socket_path_.string() +
                                 ")");
    }
    remove_leftover_temp_files();
    const auto keys = mesh::derive_keys(secret_);
    const mesh::MeshAddressing addressing(secret_, keys, options_.mesh_subnet);

    const auto node_key =
        mesh::load_or_create_node_key(mesh::node_key_path(options_.state_dir, options_.interface));
    if (node_key.created) {
        mesh::log_info("created node key " +
                       mesh::node_key_path(options_.state_dir, options_.interface).string());
    }
    if (node_key.too_open) {
        mesh::log_warning("node key file is readable by group or others; chmod 600 it");
    }
    const wg::Key private_key = node_key.private_key;
    const wg::Key public_key = private_key.public_key();
    mesh::log_info("node " + public_key.to_base64() + " joining mesh " + keys.mesh_id());

    // Before any thread exists. A userspace WireGuard started later (the interface recreated)
    // does not inherit this mask or the ignored SIGPIPE: ensure_interface resets both.
    set_up_interface();
    SignalSet signals({SIGTERM, SIGINT, SIGHUP});
    ::signal(SIGPIPE, SIG_IGN);

    // Keep the peers already configured: a restart must not drop traffic.
    auto initial = device_.get();
    initial.private_key = private_key;
    initial.listen_port = options_.listen_port;
    device_.apply(initial);

    RecordingAddressSet addresses(options_.interface,
                                  [this](const auto& previous, const auto& replacement) {
                                      record_address_change(previous, replacement);
                                  });
    mesh::CollisionResolver resolver(public_key, addressing, addresses,
                                     mesh::nonce_file_path(options_.state_dir, options_.interface),
                                     [](std::string_view line) { mesh::log_warning(line); });
    resolver.load_persisted_nonce();
    const auto v4 = resolver.local_address();
    std::optional<netlink::IpAddress> mesh_ipv6;
    std::optional<netlink::InterfaceAddress> v6;
    if (!options_.no_ipv6) {
        mesh_ipv6 = addressing.mesh_ipv6(public_key);
        v6 = netlink::InterfaceAddress{*mesh_ipv6, kMeshIpv6PrefixLength};
    }
    mesh_v6_ = v6;
    ensure_addresses(addresses, state_.addresses, v4, v6);
    {
        netlink::NetlinkSocket socket;
        netlink::set_link_up(socket, options_.interface, true);
    }
    mesh::log_info("mesh address " + v4.to_string() + (v6 ? " and " + v6->to_string() : ""));

    mesh::PeerStore store;
    const auto log_info = [](std::string_view line) { mesh::log_info(line); };
    mesh::PeerCache cache(options_.state_dir, options_.interface, log_info);
    // Before any peer source runs (SPEC 5); the cache logs its own summary line.
    cache.restore(store);

    mesh::EpochManager epochs(keys.epoch_seed, public_key, [&store] { return store.active(); });
    epochs.start();
    mesh::PeerCacheSaver saver(cache, store, mesh::kCacheSaveInterval,
                               [](std::string_view line) { mesh::log_error(line); });

    std::unique_ptr<mesh::PeersFileSource> peers_file;
    const auto reload_peers_file = [&peers_file] {
        if (!peers_file) {
            return;
        }
        const auto result = peers_file->reload();
        if (result.ok) {
            mesh::log_info("peers file " + peers_file->path().string() + ": " +
                           std::to_string(result.peers) + " peers, " +
                           std::to_string(result.removed) + " removed");
        } else {
            mesh::log_error("peers file " + result.error);
        }
        for (const auto& rejection : result.rejections) {
            mesh::log_warning("peers file: peer " + rejection);
        }
        for (const auto& note : result.notes) {
            mesh::log_warning("peers file: " + note);
        }
    };
    if (!options_.peers_file.empty()) {
        peers_file = std::make_unique<mesh::PeersFileSource>(options_.peers_file, store, addressing,
                                                             public_key);
        reload_peers_file();
    }

    netlink::KernelRouteTable route_table(options_.interface, options_.route_table,
                                          static_cast<std::uint8_t>(options_.route_protocol));
    netlink::NftForwardingOptions nft_options;
    nft_options.warn = [](const std::string& line) { mesh::log_warning(line); };
    netlink::NftForwarding forwarding(options_.interface, nft_options);
    mesh::RelayPolicy relay_policy(mesh::LocalRelayView{public_key,
                                                        options_.introducer,
                                                        options_.force_relay,
                                                        {},
                                                        local_subnets(options_.interface)});
    mesh::LocalNode local;
    local.private_key = private_key;
    local.public_key = public_key;
    local.mesh_ipv6 = mesh_ipv6;
    local.listen_port = options_.listen_port;
    local.preshared_key = keys.preshared_key();
    local.advertised_routes = options_.advertise_routes;
    local.mesh_networks = {addressing.network_v4(), addressing.network_v6()};
    mesh::Reconciler reconciler(store, device_, route_table, forwarding, resolver, relay_policy,
                                local, {options_.no_ipv6},
                                [](std::string_view line) { mesh::log_error(line); });
    reconciler.keep_mesh_addresses(addresses, v6);

    // The mesh probe (docs/daemon.md, "Peer health"): our server answers the peers' probes
    // (Go peers evict a node that does not), our client feeds the health policy, whose
    // offline verdicts reach the reconciler from the monitor's thread.
    const auto probe_port = mesh::probe_port(keys.gossip_port);
    ProbeServer probe_server(options_.interface, probe_port);
    const auto listen_on_mesh_addresses = [&probe_server, &resolver, &mesh_ipv6] {
        // Every cycle: cheap when nothing changed; a collision repair or a recreated
        // interface reopens the listeners.
        probe_server.set_addresses(resolver.local_address().address, mesh_ipv6);
    };
    listen_on_mesh_addresses();
    ProbeClient probe_client(options_.interface, probe_port);
    HealthMonitor health(
        store, reconciler, probe_client, [&resolver] { return resolver.expected_mesh_ips(); },
        public_key, options_.no_ipv6);
    KernelWatch watch(
        {.scope = {.interface = options_.interface,
                   .route_protocol = static_cast<std::uint8_t>(options_.route_protocol),
                   .route_table = options_.route_table,
                   .nft_table = netlink::forwarding_table_name(options_.interface)},
         .cycle_interval = interval_,
         .resync_interval = resync_interval_,
         .monitor = kernel_monitor_,
         .monitor_buffer_bytes = kernel_monitor_buffer_});

    Observability observability(
        options_.interface,
        options_.metrics_file.empty() ? std::nullopt
                                      : std::optional<std::filesystem::path>(options_.metrics_file),
        {.store = &store,
         .reconciler = &reconciler,
         .saver = &saver,
         .local_key = public_key,
         .drift = [&watch] { return watch.drift(); },
         .epoch = [&epochs] { return std::optional<std::uint64_t>(epochs.current_epoch().id); },
         .offline = [&health] { return health.health().offline(); }},
        resync_interval_);

    mesh::ControlContext context;
    context.interface = options_.interface;
    context.mesh_id = keys.mesh_id();
    context.public_key = public_key;
    context.listen_port = options_.listen_port;
    context.store = &store;
    context.cache = &cache;
    context.addressing = &addressing;
    context.mesh_ipv6 = mesh_ipv6;
    context.local_mesh_ip = [&resolver] { return resolver.local_mesh_ip(); };
    context.expected_mesh_ips = [&resolver] { return resolver.expected_mesh_ips(); };
    context.last_cycle = [&reconciler] { return reconciler.last_report(); };
    context.cycles = [&reconciler] { return reconciler.cycles(); };
    context.epoch = [&epochs] { return std::optional<mesh::Epoch>(epochs.current_epoch()); };
    context.interface_health = [this] {
        std::lock_guard lock(health_mutex_);
        return health_;
    };
    if (peer_probe_) {
        context.peer_health = [&health] { return health.health().statuses(); };
    }
    context.probe_server = [&probe_server] { return probe_server.status_json(); };
    context.forwarding_path = [&observability] { return observability.forwarding_json(); };
    context.metrics = [&observability] { return observability.metrics_text(); };
    context.kernel_state = [&watch, &resolver, v6] {
        std::vector<netlink::InterfaceAddress> wanted = {resolver.local_address()};
        if (v6) {
            wanted.push_back(*v6);
        }
        return watch.status_json(wanted);
    };
    mesh::ControlMethods methods(std::move(context));
    mesh::ControlServer control(socket_path_, [&methods](const mesh::ControlRequest& request) {
        return methods.handle(request);
    });
    mesh::log_info("control socket " + socket_path_.string());

    StoreWaker waker(store);
    Watchdog watchdog;
    auto next_cycle = SteadyClock::now();
    auto next_housekeeping = SteadyClock::now() + kHousekeepingInterval;
    // time_point::max(): no store change is pending.
    auto change_deadline = SteadyClock::time_point::max();
    bool ready = false;
    bool running = true;
    while (running) {
        auto deadline = std::min({next_cycle, change_deadline, watch.next_deadline()});
        deadline = std::min(deadline, watchdog.next_ping());
        const auto wakeup = wait_for_events(signals, waker, watch.fd(), health.fd(), deadline);
        if (wakeup.signal == SIGTERM || wakeup.signal == SIGINT) {
            mesh::log_info(std::string("received SIG") + ::sigabbrev_np(wakeup.signal) +
                           ", stopping");
            running = false;
            break;
        }
        if (wakeup.signal == SIGHUP) {
            mesh::log_info("received SIGHUP: reloading the peers file and reconciling");
            reload_peers_file();
            next_cycle = SteadyClock::now();
        }
        if (wakeup.store_changed && change_deadline == SteadyClock::time_point::max()) {
            change_deadline = SteadyClock::now() + kChangeDebounce;
        }
        if (wakeup.kernel_event) {
            watch.on_readable(SteadyClock::now());
        }
        if (wakeup.health_event && health.take()) {
            // A peer went offline or came back: its networks switch advertisers now.
            next_cycle = SteadyClock::now();
        }
        const auto now = SteadyClock::now();
        watchdog.ping_if_due(now);
        if (now >= next_housekeeping) {
            next_housekeeping = now + kHousekeepingInterval;
            // Static and control peers have no live source refreshing them.
            if (peers_file) {
                peers_file->refresh();
            }
            methods.refresh();
            relay_policy.set_local_subnets(local_subnets(options_.interface));
            for (const auto& key : store.remove_stale()) {
                mesh::log_info("peer " + key.to_base64() + " is stale, removed");
            }
        }
        const bool cycle_due = now >= next_cycle || now >= change_deadline;
        if (!cycle_due && watch.due(now)) {
            // Kernel events alone: a repair, and the cycle cadence goes on.
            run_cycle(reconciler, resolver, addresses, watch, observability, CycleKind::kRepair);
            listen_on_mesh_addresses();
        }
        if (cycle_due) {
            run_cycle(reconciler, resolver, addresses, watch, observability, CycleKind::kFull);
            listen_on_mesh_addresses();
            next_cycle = SteadyClock::now() + interval_;
            change_deadline = SteadyClock::time_point::max();
            watchdog.ping();
            if (!ready) {
                ready = true;
                notify_service_manager("READY=1");
                // After the first cycle, so that its handshakes and relays are known.
                if (peer_probe_) {
                    health.start();
                }
            }
        }
    }

    notify_service_manager("STOPPING=1");
    health.stop();
    waker.stop();
    epochs.stop();
    const bool saved = saver.stop();  // the final save
    mesh::log_info((saved ? "peer cache saved to " + cache.path().string()
                          : std::string("peer cache NOT saved (see the error above)")) +
                   "; interface, addresses and routes left in place");
    return 0;
}

}  // namespace wgmesh::cli
