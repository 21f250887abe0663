// The peer-health policy: when a peer is probed, when it is offline, when it comes back.
// A fake prober answers as told and a fake clock moves only when a test moves it.
#include "mesh/peer_health.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;
using netlink::IpAddress;
using netlink::Prefix;

const Clock::time_point kStart = Clock::time_point{} + 1000000s;

wg::Key key(std::uint8_t fill) {
    std::array<std::uint8_t, 32> bytes{};
    bytes.fill(fill);
    return wg::Key(bytes);
}

class FakeProber : public PeerProber {
  public:
    std::vector<ProbeOutcome> probe(std::span<const ProbeTarget> targets) override {
        rounds.emplace_back(targets.begin(), targets.end());
        std::vector<ProbeOutcome> outcomes;
        for (const auto& target : targets) {
            ProbeOutcome outcome;
            outcome.peer = target.peer;
            outcome.answered = answering.contains(target.peer);
            outcome.rtt = outcome.answered ? rtt : 0us;
            outcome.error = outcome.answered ? "" : "connect: timed out";
            outcomes.push_back(outcome);
        }
        return outcomes;
    }
    void close_sessions_except(const KeySet& keep) override { kept.push_back(keep); }

    // The peers probed in the last round.
    KeySet last_probed() const {
        KeySet keys;
        if (!rounds.empty()) {
            for (const auto& target : rounds.back()) {
                keys.insert(target.peer);
            }
        }
        return keys;
    }

    KeySet answering;
    std::chrono::microseconds rtt{2500};
    std::vector<std::vector<ProbeTarget>> rounds;
    std::vector<KeySet> kept;
};

struct Harness {
    Harness() : health(prober, [this] { return now; }) {}

    Peer peer(std::uint8_t fill, std::vector<const char*> networks = {}) const {
        Peer p;
        p.wg_pubkey = key(fill);
        p.mesh_ip = IpAddress::parse_or_throw("10.1.0." + std::to_string(fill));
        p.mesh_ipv6 = IpAddress::parse_or_throw("fd00::" + std::to_string(fill));
        p.last_seen = now;
        for (const char* network : networks) {
            p.routable_networks.push_back(Prefix::parse_or_throw(network));
        }
        return p;
    }

    HealthTickResult tick() {
        HealthTickInput input;
        input.local_key = local;
        input.peers = peers;
        input.handshakes = &handshakes;
        input.relays = &relays;
        input.expected_mesh_ips = &expected;
        input.no_ipv6 = no_ipv6;
        return health.tick(input);
    }

    // Ticks once a second, `count` times; returns the last result.
    HealthTickResult ticks(std::size_t count) {
        HealthTickResult result;
        for (std::size_t i = 0; i < count; ++i) {
            now += kHealthCheckInterval;
            result = tick();
        }
        return result;
    }

    PeerHealthStatus status(std::uint8_t fill) const { return health.statuses().at(key(fill)); }

    Clock::time_point now = kStart;
    wg::Key local = key(1);
    std::vector<Peer> peers;
    Handshakes handshakes;
    RelayAssignments relays;
    ExpectedMeshIps expected;
    bool no_ipv6 = false;
    FakeProber prober;
    PeerHealth health;
};

TEST(PeerHealth, ConstantsAreTheGoDaemons) {
    EXPECT_EQ(kHealthCheckInterval, 1s);
    EXPECT_EQ(kHandshakeVouchesFor, 150s);
    EXPECT_EQ(kProbeWhenUnseenFor, 45s);
    EXPECT_EQ(kFailuresBeforeOffline, 8u);
    EXPECT_EQ(kOfflineFor, 30s);
}

TEST(PeerHealth, AHandshakeYoungerThan150sVouchesWithoutAProbe) {
    Harness h;
    h.peers = {h.peer(2)};
    h.handshakes[key(2)] = h.now - 149s;
    h.tick();
    EXPECT_TRUE(h.prober.rounds.empty());
    EXPECT_EQ(h.status(2).verdict, HealthVerdict::kHealthyByHandshake);
    // Its probe session, if any, is closed.
    ASSERT_FALSE(h.prober.kept.empty());
    EXPECT_FALSE(h.prober.kept.back().contains(key(2)));
}

TEST(PeerHealth, AHandshake150sOldNoLongerVouches) {
    Harness h;
    h.peers = {h.peer(2)};
    h.handshakes[key(2)] = h.now - 150s;
    h.tick();
    EXPECT_EQ(h.prober.last_probed(), KeySet{key(2)});
}

TEST(PeerHealth, APeerWithoutHandshakeIsProbedOnlyWhenUnseenForOver45s) {
    Harness h;
    h.peers = {h.peer(2)};
    h.peers[0].last_seen = h.now - 45s;
    h.tick();
    EXPECT_TRUE(h.prober.rounds.empty());
    EXPECT_EQ(h.status(2).verdict, HealthVerdict::kUnchecked);
    h.peers[0].last_seen = h.now - 46s;
    h.tick();
    EXPECT_EQ(h.prober.last_probed(), KeySet{key(2)});
}

TEST(PeerHealth, ARelayRoutedPeerIsProbedWithoutEverAHandshake) {
    Harness h;
    h.peers = {h.peer(2), h.peer(3, {}), h.peer(4)};
    h.relays[key(2)] = key(4);
    h.tick();
    EXPECT_EQ(h.prober.last_probed(), KeySet{key(2)});
}

TEST(PeerHealth, APeerThatEverHadAHandshakeIsProbedOnceItIsStale) {
    Harness h;
    h.peers = {h.peer(2)};
    h.handshakes[key(2)] = h.now - 10s;
    h.tick();
    EXPECT_TRUE(h.prober.rounds.empty());
    // The device forgot it (the interface was recreated): it once had one, so it is probed.
    h.handshakes.clear();
    h.ticks(1);
    EXPECT_EQ(h.prober.last_probed(), KeySet{key(2)});
    EXPECT_TRUE(h.prober.kept.back().contains(key(2)));
}

TEST(PeerHealth, SelfAndPeersWithoutAMeshIpAreNeverProbed) {
    Harness h;
    auto self = h.peer(1);
    auto no_ip = h.peer(3);
    no_ip.mesh_ip.reset();
    h.peers = {self, no_ip};
    h.relays[key(1)] = key(9);
    h.relays[key(3)] = key(9);
    h.tick();
    EXPECT_TRUE(h.prober.rounds.empty());
    EXPECT_TRUE(h.health.statuses().empty());
}

TEST(PeerHealth, ProbesTryTheMeshIpv6AddressUnlessThisNodeHasNone) {
    Harness h;
    h.peers = {h.peer(2)};
    h.relays[key(2)] = key(9);
    h.tick();
    ASSERT_EQ(h.prober.rounds.back().size(), 1u);
    EXPECT_EQ(h.prober.rounds.back()[0].mesh_ipv6, h.peers[0].mesh_ipv6);
    EXPECT_EQ(h.prober.rounds.back()[0].mesh_ipv4, h.peers[0].mesh_ip);
    h.no_ipv6 = true;
    h.ticks(1);
    EXPECT_FALSE(h.prober.rounds.back()[0].mesh_ipv6);
}

TEST(PeerHealth, ACollisionLoserIsProbedOnTheAddressItMovesTo) {
    Harness h;
    h.peers = {h.peer(2)};
    h.relays[key(2)] = key(9);
    h.expected[key(2)] = IpAddress::parse_or_throw("10.1.7.7");
    h.tick();
    ASSERT_EQ(h.prober.rounds.back().size(), 1u);
    EXPECT_EQ(h.prober.rounds.back()[0].mesh_ipv4, IpAddress::parse_or_throw("10.1.7.7"));
}

TEST(PeerHealth, EightFailuresInARowMakeAPeerOfflineFor30s) {
    Harness h;
    h.peers = {h.peer(2)};
    h.relays[key(2)] = key(9);
    auto result = h.ticks(kFailuresBeforeOffline - 1);
    EXPECT_TRUE(result.offline.empty());
    EXPECT_FALSE(result.offline_changed);
    EXPECT_EQ(h.status(2).verdict, HealthVerdict::kFailing);
    EXPECT_EQ(h.status(2).failures, kFailuresBeforeOffline - 1);
    EXPECT_EQ(h.status(2).last_error, "connect: timed out");

    result = h.ticks(1);
    EXPECT_EQ(result.offline, KeySet{key(2)});
    EXPECT_TRUE(result.offline_changed);
    ASSERT_EQ(result.events.size(), 1u);
    EXPECT_NE(result.events[0].find("is offline"), std::string::npos);
    EXPECT_EQ(h.status(2).verdict, HealthVerdict::kOffline);
    EXPECT_EQ(h.status(2).offline_until, h.now + kOfflineFor);
    EXPECT_EQ(h.health.offline(), KeySet{key(2)});
}

TEST(PeerHealth, ASuccessInBetweenResetsTheFailures) {
    Harness h;
    h.peers = {h.peer(2)};
    h.relays[key(2)] = key(9);
    h.ticks(kFailuresBeforeOffline - 1);
    h.prober.answering = {key(2)};
    h.ticks(1);
    EXPECT_EQ(h.status(2).failures, 0u);
    h.prober.answering.clear();
    EXPECT_TRUE(h.ticks(kFailuresBeforeOffline - 1).offline.empty());
}

TEST(PeerHealth, OfflineIsRenewedWhileTheFailuresGoOn) {
    Harness h;
    h.peers = {h.peer(2)};
    h.relays[key(2)] = key(9);
    h.ticks(kFailuresBeforeOffline);
    // Far beyond the first 30 s: every failure renews it, and nothing is said again.
    const auto result = h.ticks(100);
    EXPECT_EQ(result.offline, KeySet{key(2)});
    EXPECT_FALSE(result.offline_changed);
    EXPECT_TRUE(result.events.empty());
    EXPECT_EQ(h.status(2).offline_until, h.now + kOfflineFor);
    EXPECT_EQ(h.status(2).failures, kFailuresBeforeOffline + 100);
}

TEST(PeerHealth, OfflineEndsWhenNothingRenewsItFor30s) {
    Harness h;
    h.peers = {h.peer(2)};
    h.relays[key(2)] = key(9);
    h.ticks(kFailuresBeforeOffline);
    // The peer leaves the active set: it is no longer probed, but stays offline for 30 s.
    h.peers.clear();
    EXPECT_EQ(h.ticks(kOfflineFor.count() - 1).offline, KeySet{key(2)});
    const auto result = h.ticks(1);
    EXPECT_TRUE(result.offline.empty());
    EXPECT_TRUE(result.offline_changed);
    // And then it is forgotten.
    h.ticks(1);
    EXPECT_TRUE(h.health.statuses().empty());
}

TEST(PeerHealth, AnAnsweredProbeBringsAnOfflinePeerBackAndRecordsItsLatency) {
    Harness h;
    h.peers = {h.peer(2)};
    h.relays[key(2)] = key(9);
    h.ticks(kFailuresBeforeOffline + 3);
    h.prober.answering = {key(2)};
    h.prober.rtt = 12345us;
    const auto result = h.ticks(1);
    EXPECT_TRUE(result.offline.empty());
    EXPECT_TRUE(result.offline_changed);
    ASSERT_EQ(result.latencies.size(), 1u);
    EXPECT_EQ(result.latencies[0].first, key(2));
    EXPECT_EQ(result.latencies[0].second, 12ms);
    ASSERT_EQ(result.events.size(), 1u);
    EXPECT_NE(result.events[0].find("is back"), std::string::npos);
    const auto status = h.status(2);
    EXPECT_EQ(status.verdict, HealthVerdict::kHealthyByProbe);
    EXPECT_EQ(status.failures, 0u);
    EXPECT_FALSE(status.offline_until);
    EXPECT_EQ(status.rtt, 12345us);
}

TEST(PeerHealth, AFreshHandshakeBringsAnOfflinePeerBackAndClosesItsSession) {
    Harness h;
    h.peers = {h.peer(2)};
    h.handshakes[key(2)] = h.now - 200s;
    h.ticks(kFailuresBeforeOffline);
    ASSERT_EQ(h.health.offline(), KeySet{key(2)});
    h.handshakes[key(2)] = h.now;
    const auto result = h.ticks(1);
    EXPECT_TRUE(result.offline.empty());
    EXPECT_TRUE(result.offline_changed);
    EXPECT_EQ(h.status(2).verdict, HealthVerdict::kHealthyByHandshake);
    EXPECT_EQ(h.status(2).failures, 0u);
    EXPECT_FALSE(h.prober.kept.back().contains(key(2)));
}

TEST(PeerHealth, PeersSharingANetworkAreProbedEveryTickDespiteAFreshHandshake) {
    Harness h;
    h.peers = {h.peer(2, {"10.99.0.0/24"}), h.peer(3, {"10.99.0.0/24"}),
               h.peer(4, {"10.98.0.0/24"})};
    for (std::uint8_t fill : {2, 3, 4}) {
        h.handshakes[key(fill)] = h.now;
    }
    h.tick();
    EXPECT_EQ(h.prober.last_probed(), (KeySet{key(2), key(3)}));
    EXPECT_TRUE(h.status(2).failover_watch);
    EXPECT_FALSE(h.status(4).failover_watch);
    EXPECT_EQ(h.status(4).verdict, HealthVerdict::kHealthyByHandshake);
}

TEST(PeerHealth, ADeadAdvertiserGoesOfflineWithin8TicksThoughItsHandshakeIsFresh) {
    Harness h;
    h.peers = {h.peer(2, {"10.99.0.0/24"}), h.peer(3, {"10.99.0.0/24"})};
    h.handshakes[key(2)] = h.now;
    h.handshakes[key(3)] = h.now;
    h.prober.answering = {key(3)};
    h.tick();
    const auto result = h.ticks(kFailuresBeforeOffline - 1);
    EXPECT_EQ(result.offline, KeySet{key(2)});
    EXPECT_TRUE(result.offline_changed);
    // It comes back only by answering: its handshake is no proof for a failover watch.
    h.handshakes[key(2)] = h.now;
    EXPECT_EQ(h.ticks(1).offline, KeySet{key(2)});
    h.prober.answering.insert(key(2));
    EXPECT_TRUE(h.ticks(1).offline.empty());
}

TEST(PeerHealth, SharedNetworksCountAdvertisersOtherThanThisNode) {
    Harness h;
    const std::vector<Peer> peers = {h.peer(1, {"10.99.0.0/24"}), h.peer(2, {"10.99.0.0/24"}),
                                     h.peer(3, {"10.98.0.0/24", "10.97.0.0/24"}),
                                     h.peer(4, {"10.97.0.0/24"})};
    EXPECT_EQ(peers_with_shared_networks(key(1), peers), (KeySet{key(3), key(4)}));
}

TEST(PeerHealth, AnOutcomeForAPeerNotProbedIsIgnored) {
    class StrayProber : public FakeProber {
      public:
        std::vector<ProbeOutcome> probe(std::span<const ProbeTarget> targets) override {
            auto outcomes = FakeProber::probe(targets);
            outcomes.push_back({key(7), false, 0us, "stray"});
            return outcomes;
        }
    } prober;
    Clock::time_point now = kStart;
    PeerHealth health(prober, [&now] { return now; });
    Peer peer;
    peer.wg_pubkey = key(2);
    peer.mesh_ip = IpAddress::parse_or_throw("10.1.0.2");
    peer.last_seen = now - 1h;
    const std::vector<Peer> peers = {peer};
    HealthTickInput input;
    input.local_key = key(1);
    input.peers = peers;
    health.tick(input);
    EXPECT_FALSE(health.statuses().contains(key(7)));
}

TEST(PeerHealth, ARoundProbesAtMost256PeersWatchedOnesFirstTheOthersInTurns) {
    Harness h;
    // 300 relay-routed peers due for a probe, two of them sharing a network.
    const std::size_t count = 300;
    for (std::size_t i = 0; i < count; ++i) {
        Peer p;
        std::array<std::uint8_t, 32> bytes{};
        bytes[0] = static_cast<std::uint8_t>(i >> 8);
        bytes[1] = static_cast<std::uint8_t>(i & 0xff);
        bytes[2] = 1;
        p.wg_pubkey = wg::Key(bytes);
        p.mesh_ip = IpAddress::v4(10, 1, static_cast<std::uint8_t>(i >> 8),
                                  static_cast<std::uint8_t>(i & 0xff));
        p.last_seen = h.now;
        if (i == count - 1 || i == count - 2) {
            p.routable_networks = {Prefix::parse_or_throw("10.99.0.0/24")};
        }
        h.relays[p.wg_pubkey] = key(9);
        h.peers.push_back(p);
    }
    const auto watched = peers_with_shared_networks(h.local, h.peers);
    ASSERT_EQ(watched.size(), 2u);
    KeySet probed_ever;
    for (int round = 0; round < 2; ++round) {
        h.ticks(1);
        const auto probed = h.prober.last_probed();
        EXPECT_EQ(probed.size(), kMaxProbesPerRound);
        for (const auto& key : watched) {
            EXPECT_TRUE(probed.contains(key)) << "round " << round;
        }
        // Sessions beyond the round are closed, so descriptors stay bounded.
        EXPECT_EQ(h.prober.kept.back(), probed);
        probed_ever.insert(probed.begin(), probed.end());
    }
    EXPECT_EQ(probed_ever.size(), count);
}

}  // namespace
}  // namespace wgmesh::mesh
