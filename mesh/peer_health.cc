#include "mesh/peer_health.h"

#include <algorithm>
#include <map>
#include <utility>

namespace wgmesh::mesh {
namespace {

std::optional<Clock::time_point> handshake_of(const HealthTickInput& input, const wg::Key& key) {
    if (input.handshakes == nullptr) {
        return std::nullopt;
    }
    const auto it = input.handshakes->find(key);
    return it == input.handshakes->end() ? std::nullopt : std::optional(it->second);
}

std::optional<netlink::IpAddress> probed_ipv4(const HealthTickInput& input, const Peer& peer) {
    if (input.expected_mesh_ips != nullptr) {
        if (const auto it = input.expected_mesh_ips->find(peer.wg_pubkey);
            it != input.expected_mesh_ips->end()) {
            return it->second;
        }
    }
    return peer.mesh_ip;
}

bool is_relayed(const HealthTickInput& input, const wg::Key& key) {
    return input.relays != nullptr && input.relays->contains(key);
}

}  // namespace

std::string_view to_string(HealthVerdict verdict) {
    switch (verdict) {
        case HealthVerdict::kUnchecked:
            return "unchecked";
        case HealthVerdict::kHealthyByHandshake:
            return "handshake";
        case HealthVerdict::kHealthyByProbe:
            return "probe";
        case HealthVerdict::kFailing:
            return "failing";
        case HealthVerdict::kOffline:
            return "offline";
    }
    return "unchecked";
}

KeySet peers_with_shared_networks(const wg::Key& local_key, std::span<const Peer> peers) {
    std::map<netlink::Prefix, KeySet> advertisers;
    for (const auto& peer : peers) {
        if (peer.wg_pubkey == local_key || !peer.mesh_ip) {
            continue;
        }
        for (const auto& network : peer.routable_networks) {
            advertisers[network].insert(peer.wg_pubkey);
        }
    }
    KeySet shared;
    for (const auto& [network, keys] : advertisers) {
        if (keys.size() > 1) {
            shared.insert(keys.begin(), keys.end());
        }
    }
    return shared;
}

PeerHealth::PeerHealth(PeerProber& prober, NowFn now) : prober_(prober), now_(std::move(now)) {}

HealthTickResult PeerHealth::tick(const HealthTickInput& input) {
    const KeySet shared = peers_with_shared_networks(input.local_key, input.peers);
    HealthTickResult result;
    std::vector<ProbeTarget> targets;
    KeySet probed;
    {
        std::vector<ProbeTarget> watched;
        std::vector<ProbeTarget> others;
        std::lock_guard lock(mutex_);
        const auto now = now_();
        for (auto& [key, state] : states_) {
            state.seen = false;
        }
        for (const auto& peer : input.peers) {
            if (peer.wg_pubkey == input.local_key || !peer.mesh_ip) {
                continue;
            }
            auto& state = states_[peer.wg_pubkey];
            state.seen = true;
            auto& status = state.status;
            const auto handshake = handshake_of(input, peer.wg_pubkey);
            status.ever_handshake = status.ever_handshake || handshake.has_value();
            status.failover_watch = shared.contains(peer.wg_pubkey);
            // A handshake keeps vouching for 150 s after the peer died, too long to hold
            // networks another advertiser could carry: those peers are probed regardless.
            if (handshake && now - *handshake < kHandshakeVouchesFor && !status.failover_watch) {
                if (status.verdict == HealthVerdict::kOffline) {
                    result.events.push_back("peer " + peer.wg_pubkey.to_base64() +
                                            " is back: a fresh WireGuard handshake");
                }
                status.verdict = HealthVerdict::kHealthyByHandshake;
                status.failures = 0;
                status.offline_until.reset();
                status.last_error.clear();
                continue;
            }
            const bool enforced = status.failover_watch || status.ever_handshake ||
                                  is_relayed(input, peer.wg_pubkey) ||
                                  now - peer.last_seen > kProbeWhenUnseenFor;
            if (!enforced) {
                continue;
            }
            ProbeTarget target{peer.wg_pubkey, input.no_ipv6 ? std::nullopt : peer.mesh_ipv6,
                               probed_ipv4(input, peer)};
            (status.failover_watch ? watched : others).push_back(std::move(target));
        }
        targets = choose_round(std::move(watched), std::move(others));
        for (const auto& target : targets) {
            probed.insert(target.peer);
        }
    }

    // Without the lock: a round with silent peers takes a few probe timeouts.
    prober_.close_sessions_except(probed);
    const auto outcomes = targets.empty() ? std::vector<ProbeOutcome>{} : prober_.probe(targets);

    std::lock_guard lock(mutex_);
    const auto now = now_();
    for (const auto& outcome : outcomes) {
        if (probed.contains(outcome.peer)) {
            record_outcome(outcome, now, result);
        }
    }
    for (auto& [key, state] : states_) {
        auto& status = state.status;
        if (status.offline_until && *status.offline_until <= now) {
            // Nothing renewed it: the peer left the active set or stopped being probed.
            status.offline_until.reset();
            status.verdict = HealthVerdict::kFailing;
            result.events.push_back("peer " + key.to_base64() + " is no longer held offline");
        }
    }
    std::erase_if(states_, [](const auto& entry) {
        return !entry.second.seen && !entry.second.status.offline_until;
    });
    result.offline = offline_locked(now);
    result.offline_changed = result.offline != last_offline_;
    last_offline_ = result.offline;
    return result;
}

std::vector<ProbeTarget> PeerHealth::choose_round(std::vector<ProbeTarget> watched,
                                                  std::vector<ProbeTarget> others) {
    std::vector<ProbeTarget> round = std::move(watched);
    round.resize(std::min(round.size(), kMaxProbesPerRound));
    const std::size_t room = std::min(kMaxProbesPerRound - round.size(), others.size());
    if (others.empty()) {
        return round;
    }
    for (std::size_t i = 0; i < room; ++i) {
        round.push_back(std::move(others[(next_turn_ + i) % others.size()]));
    }
    next_turn_ = (next_turn_ + room) % others.size();
    return round;
}

void PeerHealth::record_outcome(const ProbeOutcome& outcome, Clock::time_point now,
                                HealthTickResult& result) {
    auto& status = states_.at(outcome.peer).status;
    const std::string name = "peer " + outcome.peer.to_base64();
    if (outcome.answered) {
        if (status.verdict == HealthVerdict::kOffline) {
            result.events.push_back(name + " is back: it answered a probe");
        }
        const auto rtt = std::max(outcome.rtt, std::chrono::microseconds::zero());
        status.verdict = HealthVerdict::kHealthyByProbe;
        status.failures = 0;
        status.offline_until.reset();
        status.last_error.clear();
        status.rtt = rtt;
        result.latencies.emplace_back(outcome.peer,
                                      std::chrono::duration_cast<std::chrono::milliseconds>(rtt));
        return;
    }
    ++status.failures;
    status.last_error = outcome.error;
    if (status.failures < kFailuresBeforeOffline) {
        status.verdict = HealthVerdict::kFailing;
        return;
    }
    if (status.verdict != HealthVerdict::kOffline) {
        result.events.push_back(name + " is offline: " + std::to_string(status.failures) +
                                " probes failed in a row (" + outcome.error +
                                "); its networks fail over to other advertisers");
    }
    // Renewed by every further failure, so a dead peer stays offline while it is probed.
    status.verdict = HealthVerdict::kOffline;
    status.offline_until = now + kOfflineFor;
}

KeySet PeerHealth::offline_locked(Clock::time_point now) const {
    KeySet offline;
    for (const auto& [key, state] : states_) {
        if (state.status.offline_until && *state.status.offline_until > now) {
            offline.insert(key);
        }
    }
    return offline;
}

std::unordered_map<wg::Key, PeerHealthStatus> PeerHealth::statuses() const {
    std::lock_guard lock(mutex_);
    std::unordered_map<wg::Key, PeerHealthStatus> copy;
    for (const auto& [key, state] : states_) {
        copy.emplace(key, state.status);
    }
    return copy;
}

KeySet PeerHealth::offline() const {
    std::lock_guard lock(mutex_);
    return offline_locked(now_());
}

}  // namespace wgmesh::mesh
