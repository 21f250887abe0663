// The mesh probe client: mesh::PeerProber over TCP, speaking the Go daemon's protocol to the
// probe servers of the peers (tools/wgmesh/daemon/probe_server.h). Per peer one kept session
// (a TCP connection reused probe after probe), dialled on first use, IPv6 mesh address first
// and IPv4 alongside when IPv6 has not connected within 250 ms (Happy Eyeballs, RFC 8305),
// or at once when it fails: a dead peer costs one dial timeout per probe, not two, so that 8
// failures and a failover take about 10 s. Every socket is bound to the mesh interface
// (SO_BINDTODEVICE), so a probe never leaves through the underlay and proves the path
// through WireGuard. Per dial, per write and per read mesh::kProbeTimeout (1.2 s); a probe
// succeeds on the line "pong" (whitespace trimmed); the RTT runs from "ping\n" sent to the
// pong read.
//
// Like the Go client, the first line after a ping decides: anything but "pong" is a failure
// and closes the session (our servers never send anything else; a stream out of step would
// only answer later probes with stale pongs). A reply is read through a
// kMaxProbeLineBytes cap, so garbage or an endless line costs a failure, not memory. A kept
// session the server has closed meanwhile (its 10 s idle deadline) is noticed before the
// ping and re-dialled in the same probe instead of costing a failure.
//
// All targets of one probe() run at once over nonblocking sockets in one poll loop on the
// calling thread: a silent peer costs at most three timeouts and the 250 ms (a dial, a
// write, a read) of that call, and never delays the others' answers. Each probed peer holds one
// descriptor while its session is kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/peer_probe.h"
#include "netlink/ip_address.h"
#include "netlink/unique_fd.h"
#include "wg/key.h"

namespace wgmesh::cli {

class ProbeClient : public mesh::PeerProber {
  public:
    // `port`: the mesh's probe port, mesh::probe_port(gossip_port).
    ProbeClient(std::string interface_name, std::uint16_t port,
                std::chrono::milliseconds timeout = mesh::kProbeTimeout);

    // Thread-safe: calls are serialised (a probe() round holds the sessions).
    std::vector<mesh::ProbeOutcome> probe(std::span<const mesh::ProbeTarget> targets) override;
    void close_sessions_except(const mesh::KeySet& keep) override;

    std::size_t session_count() const;

  private:
    struct Session {
        netlink::UniqueFd fd;
        netlink::IpAddress remote;
    };
    class Round;

    const std::string interface_name_;
    const std::uint16_t port_;
    const std::chrono::milliseconds timeout_;

    mutable std::mutex mutex_;  // guards sessions_
    std::unordered_map<wg::Key, Session> sessions_;
};

}  // namespace wgmesh::cli
