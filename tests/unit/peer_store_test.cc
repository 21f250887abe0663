#include "mesh/peer_store.h"

#include <gtest/gtest.h>

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;
using netlink::IpAddress;
using netlink::Prefix;
using netlink::SocketAddress;

wg::Key key_n(std::uint8_t n) {
    std::array<std::uint8_t, 32> bytes{};
    bytes.fill(n);
    return wg::Key(bytes);
}

Peer peer_n(std::uint8_t n) {
    Peer p;
    p.wg_pubkey = key_n(n);
    p.mesh_ip = IpAddress::v4(10, 42, 0, n);
    return p;
}

SocketAddress ep(const char* text) {
    return *SocketAddress::parse(text);
}

// A clock the test moves by hand.
struct FakeClock {
    Clock::time_point now = Clock::time_point(std::chrono::seconds(1'700'000'000));
    PeerStore::NowFn fn() {
        return [this] { return now; };
    }
};

TEST(EndpointRank, FollowsTheSpecTable) {
    EXPECT_EQ(endpoint_method_rank("lan"), 100);
    EXPECT_EQ(endpoint_method_rank("dht-rendezvous"), 90);
    EXPECT_EQ(endpoint_method_rank("dht-rendezvous-ipv6"), 90);
    EXPECT_EQ(endpoint_method_rank("dht"), 70);
    EXPECT_EQ(endpoint_method_rank("gossip"), 65);
    EXPECT_EQ(endpoint_method_rank("dht-transitive"), 40);
    EXPECT_EQ(endpoint_method_rank("gossip-transitive"), 35);
    EXPECT_EQ(endpoint_method_rank("static"), 30);
    EXPECT_EQ(endpoint_method_rank("control"), 30);
    EXPECT_EQ(endpoint_method_rank("cache"), 20);
    EXPECT_EQ(endpoint_method_rank(""), 0);
}

TEST(LastSeenRefresh, CacheAndTransitiveNeverRefresh) {
    EXPECT_FALSE(method_refreshes_last_seen("cache"));
    EXPECT_FALSE(method_refreshes_last_seen("dht-transitive"));
    EXPECT_FALSE(method_refreshes_last_seen("gossip-transitive"));
    EXPECT_TRUE(method_refreshes_last_seen("lan"));
    EXPECT_TRUE(method_refreshes_last_seen("control"));
    EXPECT_TRUE(method_refreshes_last_seen("static"));
}

TEST(PeerStore, AddsNewPeerWithMethodAndNow) {
    FakeClock clock;
    PeerStore store(clock.fn());
    Peer p = peer_n(1);
    p.endpoint = ep("192.0.2.1:51820");
    p.discovered_via = {"forged"};
    p.endpoint_method = "forged";
    auto outcome = store.update(p, "dht");
    EXPECT_EQ(outcome.result, UpdateResult::kAdded);
    auto got = store.get(key_n(1));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->last_seen, clock.now);
    EXPECT_EQ(got->discovered_via, std::set<std::string>{"dht"});
    EXPECT_EQ(got->endpoint_method, "dht");
    EXPECT_EQ(store.update(p, "gossip").result, UpdateResult::kUpdated);
    EXPECT_EQ(store.get(key_n(1))->discovered_via, (std::set<std::string>{"dht", "gossip"}));
}

struct EndpointCase {
    const char* old_method;
    const char* old_endpoint;
    const char* new_method;
    const char* new_endpoint;
    bool replaced;
};

TEST(PeerStore, EndpointMergeRules) {
    const EndpointCase cases[] = {
        {"gossip", "192.0.2.1:1", "dht", "192.0.2.2:1", true},               // higher rank
        {"dht", "192.0.2.1:1", "gossip", "192.0.2.2:1", false},              // lower rank
        {"dht", "192.0.2.1:1", "dht", "192.0.2.2:1", true},                  // same rank, v4->v4
        {"dht", "192.0.2.1:1", "dht", "[2001:db8::1]:1", true},              // v6 beats v4
        {"dht", "[2001:db8::1]:1", "dht", "192.0.2.2:1", false},             // v4 never beats v6
        {"dht", "[2001:db8::1]:1", "dht", "[2001:db8::2]:1", true},          // same family
        {"lan", "192.0.2.1:1", "dht-rendezvous", "[2001:db8::2]:1", false},  // lan kept
        {"lan", "192.0.2.1:1", "lan", "192.0.2.9:1", true},                  // lan by lan
        {"cache", "192.0.2.1:1", "static", "192.0.2.2:1", true},             // 30 > 20
        {"static", "192.0.2.1:1", "cache", "192.0.2.2:1", false},
        {"gossip-transitive", "192.0.2.1:1", "dht-transitive", "192.0.2.2:1", true},
        {"dht-transitive", "192.0.2.1:1", "gossip-transitive", "192.0.2.2:1", false},
        {"dht", "192.0.2.1:1", "my-dht-rendezvous", "192.0.2.2:1", true},
    };
    for (const auto& c : cases) {
        FakeClock clock;
        PeerStore store(clock.fn());
        Peer p = peer_n(1);
        p.endpoint = ep(c.old_endpoint);
        ASSERT_TRUE(store.update(p, c.old_method).accepted());
        p.endpoint = ep(c.new_endpoint);
        ASSERT_TRUE(store.update(p, c.new_method).accepted());
        const auto got = store.get(key_n(1));
        const char* expected = c.replaced ? c.new_endpoint : c.old_endpoint;
        EXPECT_EQ(got->endpoint->to_string(), expected)
            << c.old_method << " " << c.old_endpoint << " <- " << c.new_method << " "
            << c.new_endpoint;
        EXPECT_EQ(got->endpoint_method, c.replaced ? c.new_method : c.old_method);
    }
}

TEST(PeerStore, EndpointFillsInWhenMissingWhateverTheRank) {
    PeerStore store;
    Peer p = peer_n(1);
    ASSERT_TRUE(store.update(p, "lan").accepted());
    p.endpoint = ep("192.0.2.1:5");
    ASSERT_TRUE(store.update(p, "cache").accepted());
    EXPECT_EQ(store.get(key_n(1))->endpoint, ep("192.0.2.1:5"));
    EXPECT_EQ(store.get(key_n(1))->endpoint_method, "cache");
}

TEST(PeerStore, NonEmptyFieldsOverwriteEmptyOnesDoNot) {
    PeerStore store;
    Peer p = peer_n(1);
    p.hostname = "alpha";
    p.mesh_ipv6 = IpAddress::parse("fd00::1");
    p.routable_networks = {*Prefix::parse("192.168.1.0/24")};
    p.nat_type = NatType::kCone;
    ASSERT_TRUE(store.update(p, "dht").accepted());

    Peer empty;
    empty.wg_pubkey = key_n(1);
    ASSERT_TRUE(store.update(empty, "dht").accepted());
    auto got = *store.get(key_n(1));
    EXPECT_EQ(got.hostname, "alpha");
    EXPECT_EQ(got.mesh_ip, IpAddress::v4(10, 42, 0, 1));
    EXPECT_EQ(got.mesh_ipv6, IpAddress::parse("fd00::1"));
    EXPECT_EQ(got.routable_networks.size(), 1u);
    EXPECT_EQ(got.nat_type, NatType::kCone);

    Peer changed = empty;
    changed.hostname = "beta";
    changed.mesh_ip = IpAddress::v4(10, 42, 9, 9);
    changed.routable_networks = {*Prefix::parse("10.9.0.0/16"), *Prefix::parse("default")};
    changed.nat_type = NatType::kSymmetric;
    changed.introducer = true;
    changed.latency = 12ms;
    ASSERT_TRUE(store.update(changed, "gossip").accepted());
    got = *store.get(key_n(1));
    EXPECT_EQ(got.hostname, "beta");
    EXPECT_EQ(got.mesh_ip, IpAddress::v4(10, 42, 9, 9));
    EXPECT_EQ(got.routable_networks, changed.routable_networks);
    EXPECT_EQ(got.nat_type, NatType::kSymmetric);
    EXPECT_TRUE(got.introducer);
    EXPECT_EQ(got.latency, 12ms);
}

TEST(PeerStore, LastSeenRefreshRules) {
    FakeClock clock;
    PeerStore store(clock.fn());
    ASSERT_TRUE(store.update(peer_n(1), "dht").accepted());
    const auto first = clock.now;
    clock.now += 1min;
    ASSERT_TRUE(store.update(peer_n(1), "gossip-transitive").accepted());
    EXPECT_EQ(store.get(key_n(1))->last_seen, first);
    ASSERT_TRUE(store.update(peer_n(1), "dht-transitive").accepted());
    ASSERT_TRUE(store.update(peer_n(1), "cache").accepted());
    EXPECT_EQ(store.get(key_n(1))->last_seen, first);
    ASSERT_TRUE(store.update(peer_n(1), "static").accepted());
    EXPECT_EQ(store.get(key_n(1))->last_seen, clock.now);
}

TEST(PeerStore, TransitiveNewPeerKeepsReportedLastSeenOrGetsNow) {
    FakeClock clock;
    PeerStore store(clock.fn());
    Peer p = peer_n(1);
    p.last_seen = clock.now - 3min;
    ASSERT_TRUE(store.update(p, "gossip-transitive").accepted());
    EXPECT_EQ(store.get(key_n(1))->last_seen, clock.now - 3min);
    EXPECT_TRUE(store.entry(key_n(1))->confirmed);
    ASSERT_TRUE(store.update(peer_n(2), "dht-transitive").accepted());
    EXPECT_EQ(store.get(key_n(2))->last_seen, clock.now);
    Peer future = peer_n(3);
    future.last_seen = clock.now + 1h;
    ASSERT_TRUE(store.update(future, "cache").accepted());
    EXPECT_EQ(store.get(key_n(3))->last_seen, clock.now);
}

TEST(PeerStore, CapRejectsNewPeersButAllowsUpdates) {
    FakeClock clock;
    PeerStore store(clock.fn(), 3);
    for (std::uint8_t i = 1; i <= 3; ++i) {
        ASSERT_EQ(store.update(peer_n(i), "dht").result, UpdateResult::kAdded);
    }
    auto outcome = store.update(peer_n(4), "dht");
    EXPECT_EQ(outcome.result, UpdateResult::kRejectedFull);
    EXPECT_NE(outcome.reason.find("maximum"), std::string::npos);
    EXPECT_FALSE(store.get(key_n(4)));
    Peer update = peer_n(2);
    update.hostname = "still-updatable";
    EXPECT_EQ(store.update(update, "dht").result, UpdateResult::kUpdated);
    EXPECT_EQ(store.get(key_n(2))->hostname, "still-updatable");
    EXPECT_TRUE(store.remove(key_n(1)));
    EXPECT_EQ(store.update(peer_n(4), "dht").result, UpdateResult::kAdded);
}

TEST(PeerStore, DefaultCapIsOneThousand) {
    PeerStore store;
    EXPECT_EQ(store.max_peers(), 1000u);
    for (int i = 0; i < 1000; ++i) {
        Peer p;
        std::array<std::uint8_t, 32> bytes{};
        bytes[0] = static_cast<std::uint8_t>(i >> 8);
        bytes[1] = static_cast<std::uint8_t>(i);
        bytes[2] = 1;
        p.wg_pubkey = wg::Key(bytes);
        ASSERT_TRUE(store.update(p, "dht").accepted());
    }
    EXPECT_EQ(store.update(peer_n(0xEE), "dht").result, UpdateResult::kRejectedFull);
    EXPECT_EQ(store.size(), 1000u);
}

TEST(PeerStore, RejectsInvalidPeersAndMethods) {
    PeerStore store;
    Peer zero;
    EXPECT_EQ(store.update(zero, "dht").result, UpdateResult::kRejectedInvalid);
    Peer v6_as_v4 = peer_n(1);
    v6_as_v4.mesh_ip = IpAddress::parse("fd00::1");
    EXPECT_EQ(store.update(v6_as_v4, "dht").result, UpdateResult::kRejectedInvalid);
    Peer v4_as_v6 = peer_n(1);
    v4_as_v6.mesh_ipv6 = IpAddress::v4(10, 0, 0, 1);
    EXPECT_EQ(store.update(v4_as_v6, "dht").result, UpdateResult::kRejectedInvalid);
    Peer bad_endpoint = peer_n(1);
    bad_endpoint.endpoint = SocketAddress{IpAddress::v4(0, 0, 0, 0), 51820};
    EXPECT_EQ(store.update(bad_endpoint, "dht").result, UpdateResult::kRejectedInvalid);
    EXPECT_EQ(store.update(peer_n(1), "").result, UpdateResult::kRejectedInvalid);
    EXPECT_EQ(store.update(peer_n(1), "bad method").result, UpdateResult::kRejectedInvalid);
    EXPECT_EQ(store.update(peer_n(1), std::string(65, 'a')).result, UpdateResult::kRejectedInvalid);
    EXPECT_EQ(store.size(), 0u);
}

TEST(PeerStore, AnInvalidHostnameIsDroppedNeverThePeer) {
    PeerStore store;
    const std::pair<std::string, std::string> bad[] = {
        {"evil\nhost", "control character U+000A"},
        {std::string(254, 'a'), "254 bytes"},
        {"bad\xff", "not valid UTF-8"},
        {"c1\xc2\x9b", "control character U+009B"},
    };
    for (std::size_t i = 0; i < std::size(bad); ++i) {
        Peer p = peer_n(static_cast<std::uint8_t>(i + 1));
        p.hostname = bad[i].first;
        const auto outcome = store.update(p, "dht");
        EXPECT_EQ(outcome.result, UpdateResult::kAdded) << outcome.reason;
        EXPECT_NE(outcome.note.find(bad[i].second), std::string::npos) << outcome.note;
        EXPECT_TRUE(store.get(p.wg_pubkey)->hostname.empty());
    }
    // A known peer keeps its good hostname when an update brings a bad one.
    Peer p = peer_n(9);
    p.hostname = "路由器 edge";
    ASSERT_TRUE(store.update(p, "dht").accepted());
    EXPECT_TRUE(store.update(p, "dht").note.empty());
    p.hostname = "evil\x1b[2J";
    const auto outcome = store.update(p, "dht");
    EXPECT_EQ(outcome.result, UpdateResult::kUpdated);
    EXPECT_FALSE(outcome.note.empty());
    EXPECT_EQ(store.get(p.wg_pubkey)->hostname, "路由器 edge");
}

TEST(PeerStore, ActiveAndStaleWindows) {
    FakeClock clock;
    PeerStore store(clock.fn());
    ASSERT_TRUE(store.update(peer_n(1), "dht").accepted());
    clock.now += 4min;
    ASSERT_TRUE(store.update(peer_n(2), "dht").accepted());
    clock.now += 1min;  // peer 1 is exactly 5 min old: no longer active
    auto active = store.active();
    ASSERT_EQ(active.size(), 1u);
    EXPECT_EQ(active[0].wg_pubkey, key_n(2));
    clock.now += 5min;  // peer 1 exactly 10 min old: not yet stale
    EXPECT_TRUE(store.remove_stale().empty());
    clock.now += 1s;
    auto removed = store.remove_stale();
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0], key_n(1));
    EXPECT_EQ(store.size(), 1u);
}

TEST(PeerStore, CachedPeersStayUsableUntilConfirmedOr24h) {
    FakeClock clock;
    PeerStore store(clock.fn());
    Peer cached = peer_n(1);
    cached.last_seen = clock.now - 2h;
    cached.endpoint = ep("192.0.2.1:51820");
    ASSERT_TRUE(store.update(cached, "cache").accepted());
    EXPECT_FALSE(store.entry(key_n(1))->confirmed);
    EXPECT_EQ(store.get(key_n(1))->last_seen, clock.now - 2h);
    EXPECT_TRUE(store.active().empty());
    auto usable = store.usable();
    ASSERT_EQ(usable.size(), 1u);
    EXPECT_FALSE(usable[0].confirmed);
    EXPECT_TRUE(store.remove_stale().empty()) << "cached peers survive the 10-minute sweep";

    // Hearsay does not confirm it.
    ASSERT_TRUE(store.update(peer_n(1), "gossip-transitive").accepted());
    EXPECT_FALSE(store.entry(key_n(1))->confirmed);

    clock.now += 22h;  // exactly 24 h old: still usable
    EXPECT_EQ(store.usable().size(), 1u);
    EXPECT_TRUE(store.remove_stale().empty());
    clock.now += 1s;
    EXPECT_TRUE(store.usable().empty());
    EXPECT_EQ(store.remove_stale().size(), 1u);
}

TEST(PeerStore, LiveUpdateConfirmsCachedPeerAndRefreshesLastSeen) {
    FakeClock clock;
    PeerStore store(clock.fn());
    Peer cached = peer_n(1);
    cached.last_seen = clock.now - 2h;
    ASSERT_TRUE(store.update(cached, "cache").accepted());
    ASSERT_TRUE(store.update(peer_n(1), "dht").accepted());
    auto entry = *store.entry(key_n(1));
    EXPECT_TRUE(entry.confirmed);
    EXPECT_EQ(entry.peer.last_seen, clock.now);
    EXPECT_EQ(entry.peer.discovered_via, (std::set<std::string>{"cache", "dht"}));
    // Once confirmed, the normal 10-minute rule applies.
    clock.now += 11min;
    EXPECT_EQ(store.remove_stale().size(), 1u);
}

TEST(PeerStore, ListsAreOrderedByKey) {
    PeerStore store;
    for (std::uint8_t n : {5, 1, 9, 3}) {
        ASSERT_TRUE(store.update(peer_n(n), "dht").accepted());
    }
    auto all = store.all();
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all[0].wg_pubkey, key_n(1));
    EXPECT_EQ(all[3].wg_pubkey, key_n(9));
}

TEST(PeerStore, SubscribersGetNewUpdatedRemoved) {
    FakeClock clock;
    PeerStore store(clock.fn());
    auto sub = store.subscribe();
    ASSERT_TRUE(store.update(peer_n(1), "dht").accepted());
    ASSERT_TRUE(store.update(peer_n(1), "lan").accepted());
    EXPECT_FALSE(store.update(Peer{}, "dht").accepted());
    ASSERT_TRUE(store.remove(key_n(1)));
    EXPECT_FALSE(store.remove(key_n(1)));
    auto e1 = sub->try_pop();
    auto e2 = sub->try_pop();
    auto e3 = sub->pop_for(10ms);
    ASSERT_TRUE(e1 && e2 && e3);
    EXPECT_EQ(e1->kind, PeerEventKind::kNew);
    EXPECT_EQ(e1->key, key_n(1));
    EXPECT_EQ(e2->kind, PeerEventKind::kUpdated);
    EXPECT_EQ(e3->kind, PeerEventKind::kRemoved);
    EXPECT_FALSE(sub->try_pop());
    EXPECT_FALSE(sub->take_overflow());
}

TEST(PeerStore, FullSubscriberQueueDropsAndFlagsWithoutBlocking) {
    PeerStore store;
    auto sub = store.subscribe(2);
    for (std::uint8_t n = 1; n <= 5; ++n) {
        ASSERT_TRUE(store.update(peer_n(n), "dht").accepted());
    }
    EXPECT_EQ(store.size(), 5u);
    EXPECT_TRUE(sub->try_pop());
    EXPECT_TRUE(sub->try_pop());
    EXPECT_FALSE(sub->try_pop());
    EXPECT_TRUE(sub->take_overflow());
    EXPECT_FALSE(sub->take_overflow());
}

TEST(PeerStore, DroppingTheSubscriptionUnsubscribes) {
    PeerStore store;
    std::weak_ptr<PeerSubscription> weak;
    {
        auto sub = store.subscribe();
        weak = sub;
    }
    EXPECT_TRUE(weak.expired());
    EXPECT_TRUE(store.update(peer_n(1), "dht").accepted());
}

TEST(PeerStore, RecordedLatencyNeitherNotifiesNorRefreshesLastSeen) {
    FakeClock clock;
    PeerStore store(clock.fn());
    ASSERT_TRUE(store.update(peer_n(1), "dht").accepted());
    const auto seen = store.get(key_n(1))->last_seen;
    const auto subscription = store.subscribe();
    clock.now += 1min;
    EXPECT_TRUE(store.record_latency(key_n(1), 7ms));
    EXPECT_EQ(store.get(key_n(1))->latency, 7ms);
    EXPECT_EQ(store.get(key_n(1))->last_seen, seen);
    EXPECT_FALSE(subscription->try_pop());
    EXPECT_FALSE(store.record_latency(key_n(2), 7ms));
    EXPECT_FALSE(store.record_latency(key_n(1), -1ms));
    EXPECT_EQ(store.get(key_n(1))->latency, 7ms);
}

}  // namespace
}  // namespace wgmesh::mesh
