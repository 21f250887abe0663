// Relay routing: each rule of SPEC section 8, the deterministic relay choice and the
// hysteresis back to direct.
#include "mesh/relay_policy.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kNow = Clock::time_point{} + 1000000s;

wg::Key key(std::uint8_t fill) {
    std::array<std::uint8_t, 32> bytes{};
    bytes.fill(fill);
    return wg::Key(bytes);
}

Peer make_peer(const wg::Key& k, const char* endpoint = "198.51.100.7:51820") {
    Peer p;
    p.wg_pubkey = k;
    if (endpoint != nullptr) {
        p.endpoint = netlink::SocketAddress::parse(endpoint);
    }
    p.last_seen = kNow;
    p.discovered_via = {"dht"};
    return p;
}

Peer introducer(const wg::Key& k, Clock::time_point seen = kNow) {
    Peer p = make_peer(k, "203.0.113.1:51820");
    p.introducer = true;
    p.last_seen = seen;
    return p;
}

LocalRelayView local_view() {
    LocalRelayView view;
    view.public_key = key(1);
    view.nat_type = NatType::kSymmetric;
    return view;
}

TEST(RelayHash, IsFnv1a64OverBase64TextsJoinedByNul) {
    // Expected values computed independently (Python) from the base64 key texts.
    EXPECT_EQ(relay_hash(key(1).to_base64(), key(3).to_base64()), 0xf9fb52529b9bf21dULL);
    EXPECT_EQ(relay_hash(key(9).to_base64(), key(3).to_base64()), 0x7cc5bfa04b47f1a5ULL);
    EXPECT_EQ(relay_hash("a", ""), 0x089be207b544f1e4ULL);  // FNV-1a 64 of "a\0"
}

TEST(ChooseRelay, PicksHashModuloTheSortedCandidatesWhateverTheirOrder) {
    const wg::Key local = key(1), peer = key(3);
    std::vector<wg::Key> candidates = {key(0x30), key(0x10), key(0x20), key(0xf0)};
    std::vector<wg::Key> sorted = candidates;
    std::sort(sorted.begin(), sorted.end());  // base64 order
    const auto expected = sorted[0xf9fb52529b9bf21dULL % sorted.size()];
    EXPECT_EQ(choose_relay(local, peer, candidates), expected);
    std::reverse(candidates.begin(), candidates.end());
    EXPECT_EQ(choose_relay(local, peer, candidates), expected);
    EXPECT_FALSE(choose_relay(local, peer, {}));
    // Two candidates: 0xf9fb52529b9bf21d is odd, so the second in base64 order.
    std::vector<wg::Key> two = {key(0x20), key(0x10)};
    std::sort(two.begin(), two.end());
    EXPECT_EQ(choose_relay(local, peer, two), two[1]);
}

TEST(RelayCandidates, AreRecentIntroducersWithAnEndpoint) {
    const wg::Key local = key(1);
    Peer no_endpoint = introducer(key(0x40));
    no_endpoint.endpoint.reset();
    Peer self = introducer(local);
    const std::vector<Peer> peers = {
        introducer(key(0x30)),              // ok
        introducer(key(0x20), kNow - 90s),  // ok: exactly 90 s
        introducer(key(0x50), kNow - 91s),  // too old
        no_endpoint,
        self,
        make_peer(key(0x60)),   // not an introducer
        introducer(key(0x70)),  // offline
    };
    const KeySet offline = {key(0x70)};
    std::vector<wg::Key> expected = {key(0x30), key(0x20)};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(relay_candidates(local, peers, &offline, kNow), expected);
}

TEST(EvaluateRelay, NeverRulesWinOverEverything) {
    LocalRelayView view = local_view();
    view.force_relay = true;
    Peer peer = make_peer(key(3));
    peer.nat_type = NatType::kSymmetric;

    LocalRelayView as_introducer = view;
    as_introducer.introducer = true;
    EXPECT_EQ(evaluate_relay(as_introducer, peer, std::nullopt, true, kNow).reason,
              RelayReason::kLocalIntroducer);

    Peer introducer_peer = peer;
    introducer_peer.introducer = true;
    EXPECT_EQ(evaluate_relay(view, introducer_peer, std::nullopt, true, kNow).reason,
              RelayReason::kPeerIntroducer);

    Peer lan_peer = peer;
    lan_peer.discovered_via = {"lan"};
    EXPECT_EQ(evaluate_relay(view, lan_peer, std::nullopt, true, kNow).reason,
              RelayReason::kLocalNetwork);

    LocalRelayView with_subnet = view;
    with_subnet.local_subnets = {netlink::Prefix::parse_or_throw("198.51.100.0/24")};
    EXPECT_EQ(evaluate_relay(with_subnet, peer, std::nullopt, true, kNow).reason,
              RelayReason::kLocalNetwork);

    const auto no_candidate = evaluate_relay(view, peer, std::nullopt, false, kNow);
    EXPECT_FALSE(no_candidate.relay);
    EXPECT_EQ(no_candidate.reason, RelayReason::kNoCandidate);
}

TEST(EvaluateRelay, ForceRelayNeedsOnlyACandidate) {
    LocalRelayView view = local_view();
    view.force_relay = true;
    view.nat_type = NatType::kCone;
    const auto decision = evaluate_relay(view, make_peer(key(3)), kNow - 1s, true, kNow);
    EXPECT_TRUE(decision.relay);
    EXPECT_EQ(decision.reason, RelayReason::kForced);
}

TEST(EvaluateRelay, BothSymmetricRelaysUnlessAHandshakeIsRecent) {
    const LocalRelayView view = local_view();
    Peer peer = make_peer(key(3));
    peer.nat_type = NatType::kSymmetric;
    EXPECT_EQ(evaluate_relay(view, peer, std::nullopt, true, kNow).reason,
              RelayReason::kBothSymmetric);
    EXPECT_EQ(evaluate_relay(view, peer, Clock::time_point{}, true, kNow).reason,
              RelayReason::kBothSymmetric);  // the epoch is WireGuard's "never"
    EXPECT_EQ(evaluate_relay(view, peer, kNow - 150s, true, kNow).reason,
              RelayReason::kRecentHandshake);
    EXPECT_EQ(evaluate_relay(view, peer, kNow - 151s, true, kNow).reason,
              RelayReason::kBothSymmetric);

    peer.nat_type = NatType::kCone;
    EXPECT_FALSE(evaluate_relay(view, peer, kNow - 151s, true, kNow).relay);
    LocalRelayView cone = view;
    cone.nat_type = NatType::kCone;
    peer.nat_type = NatType::kSymmetric;
    EXPECT_FALSE(evaluate_relay(cone, peer, std::nullopt, true, kNow).relay);
}

TEST(EvaluateRelay, TransitiveOnlyPeerWithoutHandshakeIsRelayed) {
    LocalRelayView view = local_view();
    view.nat_type = NatType::kCone;
    Peer peer = make_peer(key(3), nullptr);
    peer.discovered_via = {"dht-transitive", "gossip-transitive"};
    EXPECT_EQ(evaluate_relay(view, peer, std::nullopt, true, kNow).reason,
              RelayReason::kTransitiveOnly);
    EXPECT_FALSE(evaluate_relay(view, peer, kNow - 10s, true, kNow).relay);
    EXPECT_FALSE(evaluate_relay(view, peer, kNow - 1000s, true, kNow).relay);  // had one
    peer.discovered_via.insert("dht");
    EXPECT_EQ(evaluate_relay(view, peer, std::nullopt, true, kNow).reason, RelayReason::kDirect);
    peer.discovered_via.clear();
    EXPECT_FALSE(evaluate_relay(view, peer, std::nullopt, true, kNow).relay);
}

TEST(RelayPolicy, AssignsTheChosenRelayNeverAnOfflineOneAndSkipsSelf) {
    const LocalRelayView view = local_view();
    RelayPolicy policy(view);
    Peer natted = make_peer(key(3));
    natted.nat_type = NatType::kSymmetric;
    Peer offline_peer = natted;
    offline_peer.wg_pubkey = key(4);
    Peer self = natted;
    self.wg_pubkey = view.public_key;
    const std::vector<Peer> peers = {introducer(key(0x10)), introducer(key(0x20)),
                                     introducer(key(0x30)), natted,
                                     offline_peer,          self};
    const KeySet offline = {key(4), key(0x30)};
    const auto assignments = policy.decide(peers, {}, &offline, kNow);
    ASSERT_EQ(assignments.size(), 2u);
    const std::vector<wg::Key> candidates = {key(0x10), key(0x20)};
    EXPECT_EQ(assignments.at(key(3)), *choose_relay(view.public_key, key(3), candidates));
    // An offline peer stays relay-routed, so the health probe reaches it the way its traffic
    // would and it can come back by itself.
    EXPECT_EQ(assignments.at(key(4)), *choose_relay(view.public_key, key(4), candidates));
}

TEST(RelayPolicy, GoesBackToDirectOnlyAfterThreeGoodCycles) {
    LocalRelayView view = local_view();
    RelayPolicy policy(view);
    Peer natted = make_peer(key(3));
    natted.nat_type = NatType::kSymmetric;
    std::vector<Peer> peers = {introducer(key(0x10)), natted};
    ASSERT_EQ(policy.decide(peers, {}, nullptr, kNow).size(), 1u);

    // From now on a recent handshake says "direct": cycles 1 and 2 stay relayed.
    const Handshakes fresh = {{key(3), kNow - 5s}};
    EXPECT_EQ(policy.decide(peers, fresh, nullptr, kNow).size(), 1u);
    EXPECT_EQ(policy.decide(peers, fresh, nullptr, kNow).size(), 1u);
    // A bad cycle in between starts the count again.
    EXPECT_EQ(policy.decide(peers, {}, nullptr, kNow).size(), 1u);
    EXPECT_EQ(policy.decide(peers, fresh, nullptr, kNow).size(), 1u);
    EXPECT_EQ(policy.decide(peers, fresh, nullptr, kNow).size(), 1u);
    EXPECT_TRUE(policy.decide(peers, fresh, nullptr, kNow).empty());
    EXPECT_FALSE(policy.is_relayed(key(3)));
    EXPECT_TRUE(policy.decide(peers, fresh, nullptr, kNow).empty());
}

TEST(RelayPolicy, NeverRuleSwitchesToDirectAtOnce) {
    RelayPolicy policy(local_view());
    Peer natted = make_peer(key(3));
    natted.nat_type = NatType::kSymmetric;
    std::vector<Peer> peers = {introducer(key(0x10)), natted};
    ASSERT_EQ(policy.decide(peers, {}, nullptr, kNow).size(), 1u);
    // The only introducer went quiet: no candidate, so no relay, without waiting.
    peers[0].last_seen = kNow - 300s;
    EXPECT_TRUE(policy.decide(peers, {}, nullptr, kNow).empty());
    EXPECT_FALSE(policy.is_relayed(key(3)));
}

TEST(RelayPolicy, ForgetsPeersThatLeft) {
    RelayPolicy policy(local_view());
    Peer natted = make_peer(key(3));
    natted.nat_type = NatType::kSymmetric;
    ASSERT_EQ(
        policy.decide(std::vector<Peer>{introducer(key(0x10)), natted}, {}, nullptr, kNow).size(),
        1u);
    policy.decide(std::vector<Peer>{introducer(key(0x10))}, {}, nullptr, kNow);
    EXPECT_FALSE(policy.is_relayed(key(3)));
}

}  // namespace
}  // namespace wgmesh::mesh
