// The mesh probe as the peer-health policy sees it: one round of "ping\n" / "pong\n"
// exchanges with the probe servers of many peers at once. The daemon implements it over TCP
// (tools/wgmesh/daemon/probe_client.h); tests use fakes. Protocol and constants follow the
// Go daemon (pkg/daemon/daemon.go): the server listens on the mesh addresses at
// gossip_port + 2000.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mesh/route_plan.h"
#include "netlink/ip_address.h"
#include "wg/key.h"

namespace wgmesh::mesh {

// The TCP port of a mesh's probe servers. gossip_port is 51821..52820, so this never wraps.
constexpr std::uint16_t probe_port(std::uint16_t gossip_port) {
    return static_cast<std::uint16_t>(gossip_port + 2000);
}

// Per dial, per read and per write (the Go daemon's 1.2 s).
inline constexpr std::chrono::milliseconds kProbeTimeout{1200};

struct ProbeTarget {
    wg::Key peer;
    std::optional<netlink::IpAddress> mesh_ipv6;  // tried first
    std::optional<netlink::IpAddress> mesh_ipv4;
};

struct ProbeOutcome {
    wg::Key peer;
    bool answered = false;
    std::chrono::microseconds rtt{0};  // ping sent to pong read, when answered
    std::string error;                 // why not, when not answered (one line)
};

class PeerProber {
  public:
    virtual ~PeerProber() = default;
    // Probes every target concurrently, each over its kept session (dialled on first use,
    // IPv6 mesh address first, then IPv4), and returns one outcome per target in the same
    // order. A silent peer costs at most a few kProbeTimeout, never the others' time.
    virtual std::vector<ProbeOutcome> probe(std::span<const ProbeTarget> targets) = 0;
    // Closes the kept sessions of every peer not in `keep` (healthy by handshake, or gone).
    virtual void close_sessions_except(const KeySet& keep) = 0;
};

}  // namespace wgmesh::mesh
