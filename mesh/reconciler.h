// One reconcile cycle (SPEC section 8): the store's usable peers become the desired
// WireGuard peers and routes, applied through the kernel-facing interfaces, followed by
// forwarding and the collision check. Every step runs even when an earlier one failed;
// failures are collected in the cycle's report and logged once per distinct message.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mesh/collisions.h"
#include "mesh/peer_store.h"
#include "mesh/relay_policy.h"
#include "mesh/route_plan.h"
#include "netlink/address_set.h"
#include "netlink/forwarding.h"
#include "netlink/ip_address.h"
#include "netlink/route.h"
#include "wg/device.h"
#include "wg/key.h"

namespace wgmesh::mesh {

inline constexpr std::uint16_t kPersistentKeepaliveSeconds = 25;

// This node as the cycle needs it; the IPv4 mesh address comes from the CollisionResolver
// (it changes when this node loses a collision).
struct LocalNode {
    wg::Key private_key;
    wg::Key public_key;
    std::optional<netlink::IpAddress> mesh_ipv6;  // unset with --no-ipv6
    std::uint16_t listen_port = 0;
    wg::Key preshared_key;
    std::vector<netlink::Prefix> advertised_routes;
    // The mesh's own networks: reached through the interface address, never via a peer.
    std::vector<netlink::Prefix> mesh_networks;
};

struct ReconcilerOptions {
    bool no_ipv6 = false;  // IPv6 endpoints are not configured
};

// The kinds of owned kernel state a cycle reads back and repairs. WireGuard is not among
// them: it sends no change notifications, so its peers are read and compared every cycle.
struct OwnedState {
    bool routes = false;      // our routes and the mesh subnets' prefix routes
    bool addresses = false;   // the mesh addresses on the interface
    bool forwarding = false;  // nft table, FORWARD accept, ip_forward

    static OwnedState all() { return {true, true, true}; }
    bool any() const { return routes || addresses || forwarding; }
    OwnedState& operator|=(const OwnedState& other);
    bool operator==(const OwnedState&) const = default;
};

struct PeerTraffic {
    std::uint64_t receive_bytes = 0;
    std::uint64_t transmit_bytes = 0;
};

struct CycleReport {
    Clock::time_point started{};
    Clock::time_point finished{};
    std::size_t usable_peers = 0;      // active and cached peers other than us
    std::size_t configured_peers = 0;  // WireGuard entries in the desired config
    std::size_t cached_peers = 0;      // usable but not confirmed by a live source
    RelayAssignments relays;           // relay-routed peer -> its relay
    Handshakes handshakes;             // the device's latest handshake per peer (if any)
    // Every peer on the device as the cycle read it, with its byte counters (for metrics).
    std::unordered_map<wg::Key, PeerTraffic> traffic;
    std::size_t desired_routes = 0;
    netlink::RouteSyncReport routes;
    std::vector<std::string> route_warnings;
    std::vector<Collision> collisions;
    std::optional<netlink::InterfaceAddress> local_address_changed;
    OwnedState verified;                 // the kinds this cycle read back from the kernel
    std::size_t addresses_restored = 0;  // mesh addresses found missing and put back
    // WireGuard peers someone else removed, added or changed (`wg set`), put back. Counted
    // only when the desired configuration is the one the last cycle applied, and not for
    // endpoints alone (WireGuard roams them itself): WireGuard sends no notifications, so
    // this is found by the cycle's comparison, not by an event.
    std::size_t wireguard_peers_restored = 0;
    // ip_forward found switched off by someone and turned back on (ForwardingEnsured).
    bool ip_forward_restored = false;
    // A usable peer advertises an IPv6 network: relay traffic may need IPv6 forwarding.
    bool peers_advertise_ipv6_networks = false;
    std::vector<std::string> errors;  // one line per failed step or route

    bool ok() const { return errors.empty(); }
};

// The WireGuard configuration and routes one cycle wants: pure, for the cycle and tests.
struct DesiredState {
    wg::DeviceConfig device;
    std::vector<netlink::Route> routes;
    std::vector<std::string> warnings;
};

struct DesiredStateInput {
    const LocalNode* local = nullptr;
    netlink::IpAddress local_mesh_ip;
    std::span<const Peer> peers;  // usable peers, ourselves excluded
    const RelayAssignments* relays = nullptr;
    const KeySet* offline = nullptr;
    const ExpectedMeshIps* expected_mesh_ips = nullptr;
    bool no_ipv6 = false;
};

// Peers with a usable endpoint get an entry with keepalive and the PSK; a relay-routed
// peer's mesh addresses and networks go on its relay's entry (its own entry, when it has
// an endpoint, stays without AllowedIPs so the direct path keeps being probed). Advertised
// networks follow the route plan, so a network is allowed on exactly the entry its route's
// gateway belongs to. Offline peers keep their entry and mesh addresses (a handshake or a
// probe brings them back) but neither carry their networks nor relay: another advertiser's
// route and AllowedIPs take over.
DesiredState compute_desired_state(const DesiredStateInput& input);

class Reconciler {
  public:
    using LogFunction = std::function<void(std::string_view)>;

    Reconciler(PeerStore& store, wg::WireGuardDevice& device, netlink::RouteTable& routes,
               netlink::Forwarding& forwarding, CollisionResolver& collisions,
               RelayPolicy& relay_policy, LocalNode local, ReconcilerOptions options = {},
               LogFunction log_error = {});
    Reconciler(const Reconciler&) = delete;
    Reconciler& operator=(const Reconciler&) = delete;

    // Temporarily offline peers (the health policy's verdict) until cleared: their networks
    // are neither routed nor allowed through them, and they relay for no one.
    void set_offline(KeySet offline);

    // Makes the mesh addresses owned state: a cycle that verifies addresses puts back the
    // local IPv4 mesh address (the collision resolver's current one) and `v6` when missing.
    void keep_mesh_addresses(netlink::AddressSet& addresses,
                             std::optional<netlink::InterfaceAddress> v6);

    // Marks owned kernel state as possibly changed by someone else: the next cycle reads it
    // back and repairs it. Everything starts unverified. A kind stays verified while no one
    // marks it and the cycle's desired state for it is unchanged, so a cycle with nothing to
    // do costs no route dump and no nft listing. Without a kernel monitor, mark everything
    // before every cycle. Loop thread only, like run_cycle().
    void mark_unverified(OwnedState state);

    // One cycle; never throws for a failing step. Not reentrant: one loop thread calls it.
    CycleReport run_cycle();

    // Puts back the kinds marked unverified against the last cycle's desired state, without
    // reading the peer store or WireGuard (15-40 ms for wireguard-go at 1000 peers) or
    // computing anything: a repair restores what the last cycle decided, the next cycle
    // applies anything newer. The report carries the last cycle's view (peers, relays,
    // handshakes) and the errors of its other steps, so status stays what the last cycle
    // found plus what this repair did. Before the first cycle, a cycle. Loop thread only.
    CycleReport run_repair();

    // Thread-safe, for the control socket.
    std::optional<CycleReport> last_report() const;
    std::size_t cycles() const;

  private:
    void note_errors(const std::vector<std::string>& errors);
    void verify_kernel_state(const std::vector<netlink::Route>& desired, CycleReport& report);
    void finish(CycleReport& report);
    void verify_addresses(CycleReport& report);
    void verify_routes(const std::vector<netlink::Route>& desired, CycleReport& report);
    void verify_forwarding(CycleReport& report);
    void apply_device(const wg::DeviceConfig& desired,
                      const std::optional<wg::DeviceConfig>& current, CycleReport& report);

    PeerStore& store_;
    wg::WireGuardDevice& device_;
    netlink::RouteTable& routes_;
    netlink::Forwarding& forwarding_;
    CollisionResolver& collisions_;
    RelayPolicy& relay_policy_;
    const LocalNode local_;
    const ReconcilerOptions options_;
    LogFunction log_error_;

    mutable std::mutex mutex_;  // guards offline_, last_, cycles_
    KeySet offline_;
    std::optional<CycleReport> last_;
    std::size_t cycles_ = 0;
    std::set<std::string> logged_errors_;  // the errors of the previous cycle

    netlink::AddressSet* kept_addresses_ = nullptr;
    std::optional<netlink::InterfaceAddress> kept_v6_;
    OwnedState unverified_ = OwnedState::all();
    std::vector<netlink::Route> verified_routes_;  // the desired routes last made whole
    // What a repair starts from: the last cycle's desired routes, and the errors of its
    // steps other than the kernel state's (WireGuard, collisions), which a repair does not
    // run again and so must not clear.
    std::optional<std::vector<netlink::Route>> last_desired_routes_;
    std::vector<std::string> carried_errors_;
    std::optional<std::uint64_t> applied_device_;  // fingerprint of the config last applied
};

}  // namespace wgmesh::mesh
