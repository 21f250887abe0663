#include "mesh/reconciler.h"

#include <algorithm>
#include <exception>
#include <map>
#include <unordered_map>
#include <utility>

#include "wg/config_diff.h"

namespace wgmesh::mesh {
namespace {

// FNV-1a, for fingerprints that only need to tell "the same configuration" from "another".
class Fingerprint {
  public:
    void add(const void* data, std::size_t size) {
        for (const auto byte : std::span(static_cast<const std::uint8_t*>(data), size)) {
            hash_ = (hash_ ^ byte) * 1099511628211ULL;
        }
    }
    template <typename T>
    void add_value(const T& value) {
        add(&value, sizeof(value));
    }
    void add(const netlink::IpAddress& address) {
        add_value(address.family());
        add(address.data(), address.size());
    }
    std::uint64_t value() const { return hash_; }

  private:
    std::uint64_t hash_ = 14695981039346656037ULL;
};

// Of a desired WireGuard configuration, independent of the order of peers and allowed IPs
// (the device compares both as sets).
std::uint64_t device_fingerprint(const wg::DeviceConfig& config) {
    Fingerprint device;
    if (config.private_key) {
        device.add_value(config.private_key->bytes());
    }
    device.add_value(config.listen_port.value_or(0));
    device.add_value(config.fwmark);
    std::uint64_t peers = 0;
    for (const auto& peer : config.peers) {
        Fingerprint one;
        one.add_value(peer.public_key.bytes());
        if (peer.preshared_key) {
            one.add_value(peer.preshared_key->bytes());
        }
        if (peer.endpoint) {
            one.add(peer.endpoint->address);
            one.add_value(peer.endpoint->port);
        }
        one.add_value(peer.persistent_keepalive);
        std::uint64_t allowed = 0;
        for (const auto& prefix : peer.allowed_ips) {
            Fingerprint ip;
            ip.add(prefix.address());
            ip.add_value(prefix.length());
            allowed += ip.value();
        }
        one.add_value(allowed);
        peers += one.value();
    }
    device.add_value(peers);
    return device.value();
}

// An update that only sets an endpoint the device learned by roaming.
bool roamed(const wg::PeerUpdate& update) {
    return !update.remove && !update.preshared_key && !update.persistent_keepalive &&
           !update.replace_allowed_ips && update.allowed_ips.empty();
}

bool usable_endpoint(const Peer& peer, bool no_ipv6) {
    return peer.endpoint && !(no_ipv6 && peer.endpoint->address.is_v6());
}

netlink::Prefix host_prefix(const netlink::IpAddress& address) {
    return netlink::Prefix(address, address.is_v4() ? 32 : 128);
}

// The address other nodes reach `peer` on: the one it is expected to move to after losing
// a collision, else the one it reports.
std::optional<netlink::IpAddress> effective_mesh_ip(const Peer& peer,
                                                    const ExpectedMeshIps* expected) {
    if (expected != nullptr) {
        if (const auto it = expected->find(peer.wg_pubkey); it != expected->end()) {
            return it->second;
        }
    }
    return peer.mesh_ip;
}

void sort_unique(std::vector<netlink::Prefix>& prefixes) {
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
}

}  // namespace

DesiredState compute_desired_state(const DesiredStateInput& input) {
    const LocalNode& local = *input.local;
    DesiredState state;
    state.device.private_key = local.private_key;
    state.device.listen_port = local.listen_port;

    // Ordered by key so the desired config (and every diff against it) is deterministic.
    // Map nodes stay put, so the mesh-IP index can point at them.
    std::map<wg::Key, wg::PeerConfig> entries;
    std::unordered_map<netlink::IpAddress, wg::PeerConfig*> entry_by_mesh_ip;
    for (const auto& peer : input.peers) {
        if (peer.wg_pubkey == local.public_key || !usable_endpoint(peer, input.no_ipv6)) {
            continue;
        }
        wg::PeerConfig config;
        config.public_key = peer.wg_pubkey;
        config.preshared_key = local.preshared_key;
        config.endpoint = peer.endpoint;
        config.persistent_keepalive = kPersistentKeepaliveSeconds;
        auto& entry = entries.emplace(peer.wg_pubkey, std::move(config)).first->second;
        if (const auto ip = effective_mesh_ip(peer, input.expected_mesh_ips)) {
            entry_by_mesh_ip.emplace(*ip, &entry);
        }
        if (peer.mesh_ipv6) {
            entry_by_mesh_ip.emplace(*peer.mesh_ipv6, &entry);
        }
    }

    // Where each peer's traffic goes: its relay's entry when relay-routed, else its own. An
    // offline peer keeps its entry and its mesh addresses, so that a handshake or a probe can
    // bring it back; only its networks (the route plan skips it) and its relaying stop.
    // Peers with no entry to go through are left out of the route plan; usually there are
    // none, and the plan reads the peers in place instead of a copy of them all.
    std::vector<bool> reachable(input.peers.size(), false);
    std::size_t unreachable = 0;
    for (std::size_t i = 0; i < input.peers.size(); ++i) {
        const Peer& peer = input.peers[i];
        if (peer.wg_pubkey == local.public_key) {
            ++unreachable;
            continue;
        }
        const wg::Key* target = &peer.wg_pubkey;
        if (input.relays != nullptr) {
            if (const auto it = input.relays->find(peer.wg_pubkey); it != input.relays->end()) {
                target = &it->second;
            }
        }
        const auto entry = entries.find(*target);
        if (entry == entries.end()) {
            ++unreachable;
            continue;
        }
        if (const auto ip = effective_mesh_ip(peer, input.expected_mesh_ips)) {
            entry->second.allowed_ips.push_back(host_prefix(*ip));
        }
        if (peer.mesh_ipv6) {
            entry->second.allowed_ips.push_back(host_prefix(*peer.mesh_ipv6));
        }
        reachable[i] = true;
    }
    std::vector<Peer> reachable_copy;
    if (unreachable > 0) {
        for (std::size_t i = 0; i < input.peers.size(); ++i) {
            if (reachable[i]) {
                reachable_copy.push_back(input.peers[i]);
            }
        }
    }

    RoutePlanInput plan_input;
    plan_input.local_key = local.public_key;
    plan_input.peers = unreachable > 0 ? std::span<const Peer>(reachable_copy) : input.peers;
    plan_input.relays = input.relays;
    plan_input.offline = input.offline;
    plan_input.expected_mesh_ips = input.expected_mesh_ips;
    plan_input.excluded_networks = local.mesh_networks;
    plan_input.excluded_networks.insert(plan_input.excluded_networks.end(),
                                        local.advertised_routes.begin(),
                                        local.advertised_routes.end());
    auto plan = plan_routes(plan_input);

    // A network is allowed on exactly the entry its route goes through, so WireGuard's
    // cryptokey routing and the kernel's routing table always agree.
    for (const auto& route : plan.routes) {
        const auto owner = entry_by_mesh_ip.find(route.gateway);
        if (owner == entry_by_mesh_ip.end()) {
            continue;
        }
        owner->second->allowed_ips.push_back(route.destination);
    }
    for (auto& [key, config] : entries) {
        sort_unique(config.allowed_ips);
        state.device.peers.push_back(std::move(config));
    }
    state.routes = std::move(plan.routes);
    state.warnings = std::move(plan.warnings);
    return state;
}

Reconciler::Reconciler(PeerStore& store, wg::WireGuardDevice& device, netlink::RouteTable& routes,
                       netlink::Forwarding& forwarding, CollisionResolver& collisions,
                       RelayPolicy& relay_policy, LocalNode local, ReconcilerOptions options,
                       LogFunction log_error)
    : store_(store),
      device_(device),
      routes_(routes),
      forwarding_(forwarding),
      collisions_(collisions),
      relay_policy_(relay_policy),
      local_(std::move(local)),
      options_(options),
      log_error_(std::move(log_error)) {}

OwnedState& OwnedState::operator|=(const OwnedState& other) {
    routes = routes || other.routes;
    addresses = addresses || other.addresses;
    forwarding = forwarding || other.forwarding;
    return *this;
}

void Reconciler::keep_mesh_addresses(netlink::AddressSet& addresses,
                                     std::optional<netlink::InterfaceAddress> v6) {
    kept_addresses_ = &addresses;
    kept_v6_ = std::move(v6);
}

void Reconciler::mark_unverified(OwnedState state) {
    unverified_ |= state;
}

void Reconciler::verify_addresses(CycleReport& report) {
    if (!unverified_.addresses || kept_addresses_ == nullptr) {
        return;
    }
    report.verified.addresses = true;
    try {
        const auto present = kept_addresses_->list();
        bool whole = true;
        for (const auto& wanted : {std::optional(collisions_.local_address()), kept_v6_}) {
            if (!wanted || std::find(present.begin(), present.end(), *wanted) != present.end()) {
                continue;
            }
            try {
                kept_addresses_->replace(std::nullopt, *wanted);
                ++report.addresses_restored;
            } catch (const std::exception& e) {
                whole = false;
                report.errors.push_back("restoring mesh address " + wanted->to_string() + ": " +
                                        e.what());
            }
        }
        unverified_.addresses = !whole;
    } catch (const std::exception& e) {
        report.errors.push_back(std::string("reading the mesh addresses: ") + e.what());
    }
}

void Reconciler::verify_routes(const std::vector<netlink::Route>& desired, CycleReport& report) {
    if (!unverified_.routes && desired == verified_routes_) {
        return;
    }
    report.verified.routes = true;
    bool whole = true;
    try {
        // Before the sync: `ip route flush dev IF` also takes the kernel's route of the mesh
        // subnet, without which the mesh addresses themselves are unreachable.
        for (auto& error : routes_.restore_prefix_routes(local_.mesh_networks)) {
            whole = false;
            report.errors.push_back(std::move(error));
        }
    } catch (const std::exception& e) {
        whole = false;
        report.errors.push_back(std::string("restoring prefix routes: ") + e.what());
    }
    try {
        report.routes = routes_.sync(desired);
        for (const auto& failure : report.routes.failures) {
            whole = false;
            report.errors.push_back(std::string(failure.removing ? "removing" : "adding") +
                                    " route " + failure.route.to_string() + ": " + failure.message);
        }
    } catch (const std::exception& e) {
        whole = false;
        report.errors.push_back(std::string("syncing routes: ") + e.what());
    }
    // A failed route is retried next cycle, so the kind stays unverified until it lands.
    unverified_.routes = !whole;
    verified_routes_ = whole ? desired : std::vector<netlink::Route>{};
}

void Reconciler::verify_forwarding(CycleReport& report) {
    if (!unverified_.forwarding) {
        return;
    }
    report.verified.forwarding = true;
    try {
        report.ip_forward_restored = forwarding_.ensure().ip_forward_restored;
        unverified_.forwarding = false;
    } catch (const std::exception& e) {
        report.errors.push_back(std::string("ensuring forwarding: ") + e.what());
    }
}

void Reconciler::apply_device(const wg::DeviceConfig& desired,
                              const std::optional<wg::DeviceConfig>& current, CycleReport& report) {
    const auto fingerprint = device_fingerprint(desired);
    try {
        if (!current) {
            device_.apply(desired);
        } else {
            const auto sent = device_.apply_against(*current, desired);
            if (applied_device_ == fingerprint) {
                report.wireguard_peers_restored = static_cast<std::size_t>(
                    std::count_if(sent.peers.begin(), sent.peers.end(),
                                  [](const wg::PeerUpdate& update) { return !roamed(update); }));
            }
        }
        applied_device_ = fingerprint;
    } catch (const std::exception& e) {
        applied_device_.reset();
        report.errors.push_back(std::string("configuring WireGuard: ") + e.what());
    }
}

void Reconciler::set_offline(KeySet offline) {
    std::lock_guard lock(mutex_);
    offline_ = std::move(offline);
}

CycleReport Reconciler::run_cycle() {
    CycleReport report;
    const auto now = store_.now();
    report.started = now;
    KeySet offline;
    {
        std::lock_guard lock(mutex_);
        offline = offline_;
    }

    std::vector<Peer> peers;
    for (auto& entry : store_.usable(now)) {
        if (entry.peer.wg_pubkey == local_.public_key) {
            continue;
        }
        report.cached_peers += entry.confirmed ? 0 : 1;
        report.peers_advertise_ipv6_networks =
            report.peers_advertise_ipv6_networks ||
            std::any_of(entry.peer.routable_networks.begin(), entry.peer.routable_networks.end(),
                        [](const netlink::Prefix& network) { return network.address().is_v6(); });
        peers.push_back(std::move(entry.peer));
    }
    report.usable_peers = peers.size();

    // Handshakes feed the relay policy; without them every peer just looks handshake-less.
    Handshakes& handshakes = report.handshakes;
    std::optional<wg::DeviceConfig> device_now;
    try {
        device_now = device_.get();
        for (const auto& peer : device_now->peers) {
            report.traffic.emplace(peer.public_key, PeerTraffic{peer.rx_bytes, peer.tx_bytes});
            if (peer.last_handshake_unix > 0) {
                handshakes.emplace(
                    peer.public_key,
                    Clock::time_point(std::chrono::seconds(peer.last_handshake_unix)));
            }
        }
    } catch (const std::exception& e) {
        report.errors.push_back(std::string("reading WireGuard device: ") + e.what());
    }
    report.relays = relay_policy_.decide(peers, handshakes, &offline, now);

    const auto expected = collisions_.expected_mesh_ips();
    DesiredStateInput input;
    input.local = &local_;
    input.local_mesh_ip = collisions_.local_mesh_ip();
    input.peers = peers;
    input.relays = &report.relays;
    input.offline = &offline;
    input.expected_mesh_ips = &expected;
    input.no_ipv6 = options_.no_ipv6;
    auto desired = compute_desired_state(input);
    report.configured_peers = desired.device.peers.size();
    report.desired_routes = desired.routes.size();
    report.route_warnings = std::move(desired.warnings);

    apply_device(desired.device, device_now, report);
    device_now.reset();
    const std::size_t kernel_errors_start = report.errors.size();
    verify_kernel_state(desired.routes, report);
    const std::size_t kernel_errors_end = report.errors.size();
    last_desired_routes_ = std::move(desired.routes);
    try {
        const auto all = store_.all();
        auto outcome = collisions_.resolve(all);
        report.collisions = std::move(outcome.collisions);
        report.local_address_changed = outcome.local_address_changed;
        for (auto& error : outcome.errors) {
            report.errors.push_back("resolving collisions: " + error);
        }
    } catch (const std::exception& e) {
        report.errors.push_back(std::string("resolving collisions: ") + e.what());
    }
    carried_errors_.assign(report.errors.begin(),
                           report.errors.begin() + static_cast<long>(kernel_errors_start));
    carried_errors_.insert(carried_errors_.end(),
                           report.errors.begin() + static_cast<long>(kernel_errors_end),
                           report.errors.end());
    finish(report);
    std::lock_guard lock(mutex_);
    ++cycles_;
    return report;
}

CycleReport Reconciler::run_repair() {
    std::optional<CycleReport> last;
    {
        std::lock_guard lock(mutex_);
        last = last_;
    }
    if (!last || !last_desired_routes_) {
        return run_cycle();
    }
    // The last cycle's view of the mesh; what this repair does replaces the rest.
    CycleReport report = std::move(*last);
    report.started = store_.now();
    report.routes = {};
    report.verified = {};
    report.addresses_restored = 0;
    report.wireguard_peers_restored = 0;
    report.local_address_changed.reset();
    report.errors = carried_errors_;
    verify_kernel_state(*last_desired_routes_, report);
    finish(report);
    return report;
}

// Addresses before routes: the kernel's route of the mesh subnet comes with the address.
void Reconciler::verify_kernel_state(const std::vector<netlink::Route>& desired,
                                     CycleReport& report) {
    verify_addresses(report);
    verify_routes(desired, report);
    verify_forwarding(report);
}

void Reconciler::finish(CycleReport& report) {
    report.finished = store_.now();
    note_errors(report.errors);
    std::lock_guard lock(mutex_);
    last_ = report;
}

void Reconciler::note_errors(const std::vector<std::string>& errors) {
    // A failing step fails again every 5 s; say so once, and again only after it cleared.
    std::set<std::string> current(errors.begin(), errors.end());
    if (log_error_) {
        for (const auto& error : current) {
            if (!logged_errors_.contains(error)) {
                log_error_(error);
            }
        }
    }
    logged_errors_ = std::move(current);
}

std::optional<CycleReport> Reconciler::last_report() const {
    std::lock_guard lock(mutex_);
    return last_;
}

std::size_t Reconciler::cycles() const {
    std::lock_guard lock(mutex_);
    return cycles_;
}

}  // namespace wgmesh::mesh
