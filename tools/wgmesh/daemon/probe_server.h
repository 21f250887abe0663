// The mesh probe server: answers "ping\n" with "pong\n" on TCP <mesh IPv4>:P and
// [<mesh IPv6>]:P, bound to the mesh interface, P = mesh::probe_port(gossip_port), so that
// Go and C++ nodes can tell whether this node still answers through the mesh (the Go daemon
// evicts a peer whose probes fail). Per connection, like the Go server: every line "ping"
// (whitespace trimmed) gets "pong\n", other lines are ignored, a connection without a line
// for 10 s is closed, and a pong that cannot be written within 2 s closes it too.
//
// Unlike the Go server it is bounded, because anyone inside the mesh can connect: at most
// `max_connections` connections in total and `max_per_source` per source address, and a line
// longer than kMaxProbeLineBytes closes its connection. A connection over a cap is not
// refused: room is made by closing the connection that answered a ping least recently,
// connections that never sent a ping going first (oldest first). A flood of idle or
// slow-loris connections therefore only pushes out its own kind, while a prober that pings
// every second keeps its session; and a peer that re-dials after its old session died
// half-open is never locked out by its own leftovers.
//
// It runs on a thread of its own (epoll, nonblocking sockets) rather than in the daemon's
// loop: a reconcile cycle can take longer than the peers' 1.2 s probe timeout (thousands of
// routes, a slow userspace WireGuard), and a pong delayed by a cycle would count against
// this node on every peer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "netlink/ip_address.h"
#include "netlink/unique_fd.h"

namespace wgmesh::cli {

struct ProbeServerLimits {
    std::size_t max_connections = 256;
    std::size_t max_per_source = 4;
    std::chrono::milliseconds read_deadline{10000};  // a line must arrive within this
    std::chrono::milliseconds write_deadline{2000};  // a pong must be written within this
};

struct ProbeServerCounters {
    std::uint64_t accepted = 0;
    std::uint64_t evicted = 0;    // closed to make room under a cap
    std::uint64_t timed_out = 0;  // no line within the read deadline, or a stuck write
    std::uint64_t too_long = 0;   // closed for a line over kMaxProbeLineBytes
    std::uint64_t pings_answered = 0;
    std::size_t open = 0;                // connections open now
    std::vector<std::string> listening;  // "10.42.0.7:53821", "[fd8a::7]:53821"
    std::vector<std::string> errors;     // why a wanted listener is not open
};

class ProbeServer {
  public:
    // Starts the serving thread, listening on nothing until set_addresses(). Sockets are
    // created by that thread, in the network namespace of the thread constructing this.
    ProbeServer(std::string interface_name, std::uint16_t port, ProbeServerLimits limits = {});
    ~ProbeServer();  // stops and joins the thread, closes every socket
    ProbeServer(const ProbeServer&) = delete;
    ProbeServer& operator=(const ProbeServer&) = delete;

    // The node's mesh addresses now (nullopt: none of that family). A listener whose address
    // changed (collision repair) is closed and reopened on the new one; one that could not
    // be opened (say, the interface does not exist yet) is tried again; both are reopened
    // when the interface was recreated (SO_BINDTODEVICE holds the old interface index).
    // Cheap when nothing changed, so the daemon calls it every cycle. Returns once applied:
    // true when every given address has its listener; failures are logged once each (until
    // they change or clear) and listed in counters().errors. Throws std::invalid_argument
    // when an address is of the wrong family.
    bool set_addresses(const std::optional<netlink::IpAddress>& ipv4,
                       const std::optional<netlink::IpAddress>& ipv6);

    std::uint16_t port() const { return port_; }
    // Thread-safe.
    ProbeServerCounters counters() const;
    // `status`'s view of counters(): {"port", "listening", "errors", "connections",
    // "accepted", "evicted", "timed_out", "too_long", "pings_answered"}. Thread-safe.
    nlohmann::json status_json() const;

  private:
    struct Connection;
    struct Listener;
    class Loop;

    void run();

    const std::string interface_name_;
    const std::uint16_t port_;
    const ProbeServerLimits limits_;
    netlink::UniqueFd wake_fd_;  // eventfd: new addresses or stop

    mutable std::mutex mutex_;  // guards everything below
    std::condition_variable applied_cv_;
    std::optional<netlink::IpAddress> wanted_ipv4_;
    std::optional<netlink::IpAddress> wanted_ipv6_;
    std::uint64_t requested_ = 0;  // set_addresses calls made
    std::uint64_t applied_ = 0;    // of those, applied by the thread
    bool applied_ok_ = false;
    bool stopping_ = false;
    bool thread_done_ = false;
    ProbeServerCounters counters_;

    std::thread thread_;
};

}  // namespace wgmesh::cli
