// The methods the daemon answers on its control socket (SPEC section 13): status, peers,
// peer.add, peer.remove, cache.save, and metrics (docs/metrics.md). Params are validated strictly;
// anything unexpected is an error answer, never a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "mesh/control_protocol.h"
#include "mesh/dandelion.h"
#include "mesh/mesh_address.h"
#include "mesh/peer_cache.h"
#include "mesh/peer_health.h"
#include "mesh/peer_store.h"
#include "mesh/reconciler.h"
#include "wg/key.h"

namespace wgmesh::mesh {

inline constexpr std::string_view kControlMethod = "control";

// The mesh interface as the daemon's check before each cycle last found it.
struct InterfaceHealth {
    std::optional<std::string> fault;  // while it is broken: what is wrong with it
    std::size_t recreations = 0;       // times the daemon recreated it since start
};

// What the handler reads; every callable must be thread-safe (the control socket has a
// thread of its own).
struct ControlContext {
    std::string interface;
    std::string mesh_id;  // DerivedKeys::mesh_id(): which mesh the secret gave
    wg::Key public_key;
    std::uint16_t listen_port = 0;
    PeerStore* store = nullptr;
    const PeerCache* cache = nullptr;
    const MeshAddressing* addressing = nullptr;
    std::optional<netlink::IpAddress> mesh_ipv6;
    std::function<netlink::IpAddress()> local_mesh_ip;
    std::function<ExpectedMeshIps()> expected_mesh_ips;
    std::function<std::optional<CycleReport>()> last_cycle;
    std::function<std::size_t()> cycles;
    std::function<std::optional<Epoch>()> epoch;        // may be empty
    std::function<InterfaceHealth()> interface_health;  // may be empty
    // The daemon's view of the kernel state it holds (monitor, drift, repairs, resyncs,
    // whether the mesh addresses are there now): `status`'s "kernel" object. May be empty.
    std::function<nlohmann::json()> kernel_state;
    // The health policy's view of each peer (PeerHealth::statuses()). May be empty.
    std::function<std::unordered_map<wg::Key, PeerHealthStatus>()> peer_health;
    // The probe server's listeners and counters: `status`'s "probe" object. May be empty.
    std::function<nlohmann::json()> probe_server;
    // The last forwarding-path check: `status`'s "forwarding_path" object. May be empty.
    std::function<nlohmann::json()> forwarding_path;
    // The Prometheus text of the method "metrics" (docs/metrics.md). May be empty: the method
    // is then unknown, as to an older daemon.
    std::function<std::string()> metrics;
};

class ControlMethods {
  public:
    explicit ControlMethods(ControlContext context);
    ControlMethods(const ControlMethods&) = delete;
    ControlMethods& operator=(const ControlMethods&) = delete;

    // The ControlHandler: the result object, or throws std::invalid_argument /
    // std::runtime_error whose text becomes the error answer.
    nlohmann::json handle(const ControlRequest& request);

    // Reports the peers added over the socket to the store again, so that they stay active
    // like static peers until removed.
    void refresh();

  private:
    nlohmann::json status() const;
    nlohmann::json peers() const;
    nlohmann::json add_peer(const nlohmann::json& params);
    nlohmann::json remove_peer(const nlohmann::json& params);
    nlohmann::json save_cache() const;

    ControlContext context_;
    std::mutex mutex_;  // guards added_
    std::unordered_map<wg::Key, Peer> added_;
};

// One peer in the cache file's schema plus "confirmed", "discovered_via" and, when it is
// relay-routed, "relay" (the relay's public key) and, after a lost collision,
// "expected_mesh_ip".
nlohmann::json peer_to_json(const PeerEntry& entry, const RelayAssignments* relays,
                            const ExpectedMeshIps* expected, Clock::time_point now);

// A peer's "health" object: {"state": "unchecked"|"handshake"|"probe"|"failing"|"offline",
// "failures", "offline_until" (unix s or null), "rtt_us" (the last answered probe's, or
// null), "last_error" (or null), "failover_watch"}.
nlohmann::json health_to_json(const PeerHealthStatus& status);

}  // namespace wgmesh::mesh
