// The peer-health policy: which peers are temporarily offline, by the rules and constants of
// the Go daemon's health loop (pkg/daemon/daemon.go), except that an offline peer is never
// deleted from the store or the cache: it is skipped by route sync and comes back by itself
// when a handshake or a probe succeeds. Pure logic over an injected clock and prober; the
// daemon ticks it every second from a thread of its own (docs/daemon.md, "Peer health").
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mesh/peer.h"
#include "mesh/peer_probe.h"
#include "mesh/relay_policy.h"
#include "mesh/route_plan.h"
#include "wg/key.h"

namespace wgmesh::mesh {

inline constexpr std::chrono::seconds kHealthCheckInterval{1};
// A WireGuard handshake younger than this vouches for a peer without a probe.
inline constexpr std::chrono::seconds kHandshakeVouchesFor{150};
// A peer that never had a handshake and is not relay-routed is probed only once it has not
// been seen for this long (it may simply not have been configured yet).
inline constexpr std::chrono::seconds kProbeWhenUnseenFor{45};
inline constexpr std::size_t kFailuresBeforeOffline = 8;
// How long one failure beyond kFailuresBeforeOffline keeps a peer offline.
inline constexpr std::chrono::seconds kOfflineFor{30};
// Peers probed in one round at most (each kept session holds a descriptor): with the probe
// server's 256 connections this stays well within the 1024 descriptors a service gets by
// default (the unit forbids raising the limit). Peers whose networks have another
// advertiser go first; the others take turns.
inline constexpr std::size_t kMaxProbesPerRound = 256;

enum class HealthVerdict {
    kUnchecked,           // no handshake and no probe enforced yet
    kHealthyByHandshake,  // a handshake younger than kHandshakeVouchesFor
    kHealthyByProbe,      // the last probe was answered
    kFailing,             // probes fail, fewer than kFailuresBeforeOffline in a row
    kOffline,             // temporarily offline until `offline_until`
};

// "unchecked", "handshake", "probe", "failing", "offline".
std::string_view to_string(HealthVerdict verdict);

struct PeerHealthStatus {
    HealthVerdict verdict = HealthVerdict::kUnchecked;
    std::size_t failures = 0;  // consecutive failed probes
    std::optional<Clock::time_point> offline_until;
    std::optional<std::chrono::microseconds> rtt;  // of the last answered probe
    std::string last_error;                        // of the last failed probe
    bool ever_handshake = false;
    // Its networks have another advertiser: probed every tick, whatever its handshake says,
    // so that failover does not wait for the handshake to age.
    bool failover_watch = false;
};

struct HealthTickInput {
    wg::Key local_key;
    std::span<const Peer> peers;  // the store's active peers
    const Handshakes* handshakes = nullptr;
    const RelayAssignments* relays = nullptr;
    // A collision loser is probed on the address it moves to, not the one it still reports
    // (which belongs to the winner, whose pong would vouch for the wrong node).
    const ExpectedMeshIps* expected_mesh_ips = nullptr;
    bool no_ipv6 = false;  // this node has no mesh IPv6: probe IPv4 only
};

struct HealthTickResult {
    KeySet offline;  // the peers offline after this tick
    bool offline_changed = false;
    // Round-trip times of the answered probes, to be recorded as the peers' latency.
    std::vector<std::pair<wg::Key, std::chrono::milliseconds>> latencies;
    // What changed, one line each (a peer went offline or came back).
    std::vector<std::string> events;
};

class PeerHealth {
  public:
    using NowFn = std::function<Clock::time_point()>;

    explicit PeerHealth(PeerProber& prober, NowFn now = &Clock::now);
    PeerHealth(const PeerHealth&) = delete;
    PeerHealth& operator=(const PeerHealth&) = delete;

    // One round: the verdicts of `input.peers`, probing those no handshake vouches for (one
    // probe each, all at once). One thread ticks; the probe runs without the lock.
    HealthTickResult tick(const HealthTickInput& input);

    // Thread-safe (the control socket reads it): the status of every peer the last tick saw,
    // and of offline peers that left the active set until their offline time ends.
    std::unordered_map<wg::Key, PeerHealthStatus> statuses() const;
    KeySet offline() const;

  private:
    struct State {
        PeerHealthStatus status;
        bool seen = false;  // in the current tick's peers
    };

    void record_outcome(const ProbeOutcome& outcome, Clock::time_point now,
                        HealthTickResult& result);
    KeySet offline_locked(Clock::time_point now) const;
    // At most kMaxProbesPerRound of the due probes: every watched one first, then the others
    // in turns from where the last round stopped.
    std::vector<ProbeTarget> choose_round(std::vector<ProbeTarget> watched,
                                          std::vector<ProbeTarget> others);

    PeerProber& prober_;
    NowFn now_;
    mutable std::mutex mutex_;  // guards states_ and last_offline_
    std::unordered_map<wg::Key, State> states_;
    KeySet last_offline_;
    std::size_t next_turn_ = 0;  // choose_round(): where the others' turns go on
};

// The peers whose routable networks another peer in `peers` (not `local_key`) advertises too.
KeySet peers_with_shared_networks(const wg::Key& local_key, std::span<const Peer> peers);

}  // namespace wgmesh::mesh
