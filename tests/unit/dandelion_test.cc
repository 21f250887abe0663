#include "mesh/dandelion.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "wg/encoding.h"

namespace wgmesh::mesh {
namespace {

using netlink::IpAddress;
using netlink::Prefix;
using netlink::SocketAddress;

// Vectors computed independently with Python's hmac/hashlib:
//   seed = sha256(b"wgmesh epoch test seed"); key i = base64(sha256(b"peer-%d" % i))
//   rank = hmac.new(seed, struct.pack(">Q", epoch) + key_b64.encode(), sha256)
constexpr const char* kSeedHex = "216e23d7c7fbceea8f086b51df9e7993380cdf38059a1392f80607042c1b87f5";
constexpr const char* kKeys[] = {
    "CGlHBOvWIl6h6U3TM30oHeUhFxbn6wGNW/kSV9dJ700=", "N+/8gdgFgR1Z+ZwTdrOTslUpt0gsOa2GbEl5G2LcRLs=",
    "RkDtiCN2kM0ZoM9M9QM4IeOCIOHalV7ZYZxBCBKVFyc=", "bCzo+25+pRkuaLOiP1vUt38DsV5atFR1pT5GbIqcRHo=",
    "jm8WTbnsgRPGXoej7YXw5jUAtGVeHMRT1GGzpGjweE0=", "0F2i1szqhHCeBd4sH2qvI3MbvQOJ/xG78xGx0nuamhM=",
};

EpochSeed test_seed() {
    auto bytes = *wg::hex_decode(kSeedHex);
    EpochSeed seed{};
    std::copy(bytes.begin(), bytes.end(), seed.begin());
    return seed;
}

std::vector<Peer> test_peers() {
    std::vector<Peer> peers;
    for (const char* key : kKeys) {
        Peer p;
        p.wg_pubkey = wg::Key::parse_or_throw(key);
        peers.push_back(p);
    }
    return peers;
}

wg::Key key(int i) {
    return wg::Key::parse_or_throw(kKeys[i]);
}

TEST(RelayRank, MatchesIndependentHmacVectors) {
    const auto seed = test_seed();
    EXPECT_EQ(wg::hex_encode(relay_rank(seed, 1, key(0))),
              "08291e3237394dc6436103ca44a152b87b442ca3adb9893f4f94bba9f5889cb6");
    EXPECT_EQ(wg::hex_encode(relay_rank(seed, 2, key(0))),
              "090de7c71a638c0cf05b8e3f08f62273653b7a4691f7d0c08a9fbf3757a38e80");
    EXPECT_EQ(wg::hex_encode(relay_rank(seed, 7, key(0))),
              "1023dd91ad2b047e864938a7ceff919bea8fac4375e40d2facde8b5294bc9fbd");
}

struct SelectionVector {
    std::uint64_t epoch;
    int self;  // -1: none of the peers
    int first;
    int second;
};

TEST(SelectRelays, MatchesIndependentVectors) {
    const auto seed = test_seed();
    const SelectionVector vectors[] = {
        {1, -1, 0, 5},
        {1, 0, 5, 3},
        {2, -1, 0, 3},
        {2, 0, 3, 1},
        {7, -1, 0, 2},
        {7, 0, 2, 1},
        {123456789012, -1, 4, 0},
        {123456789012, 4, 0, 5},
    };
    auto peers = test_peers();
    for (const auto& v : vectors) {
        const wg::Key self = v.self >= 0 ? key(v.self) : wg::Key{};
        auto relays = select_relays(seed, v.epoch, peers, self);
        ASSERT_EQ(relays.size(), 2u);
        EXPECT_EQ(relays[0].wg_pubkey, key(v.first)) << "epoch " << v.epoch;
        EXPECT_EQ(relays[1].wg_pubkey, key(v.second)) << "epoch " << v.epoch;
    }
}

TEST(SelectRelays, IndependentOfInputOrderAndDuplicates) {
    const auto seed = test_seed();
    auto peers = test_peers();
    std::reverse(peers.begin(), peers.end());
    peers.push_back(peers.back());
    peers.push_back(peers.front());
    auto relays = select_relays(seed, 1, peers, key(0));
    ASSERT_EQ(relays.size(), 2u);
    EXPECT_EQ(relays[0].wg_pubkey, key(5));
    EXPECT_EQ(relays[1].wg_pubkey, key(3));
}

TEST(SelectRelays, FewPeers) {
    const auto seed = test_seed();
    auto peers = test_peers();
    EXPECT_TRUE(select_relays(seed, 1, {}, {}).empty());
    std::vector<Peer> only_self{peers[0]};
    EXPECT_TRUE(select_relays(seed, 1, only_self, key(0)).empty());
    std::vector<Peer> one{peers[2], peers[0]};
    auto relays = select_relays(seed, 1, one, key(0));
    ASSERT_EQ(relays.size(), 1u);
    EXPECT_EQ(relays[0].wg_pubkey, key(2));
}

Announce sample_announce(std::uint8_t hop) {
    Announce a;
    a.origin_pubkey = key(1);
    a.origin_mesh_ip = IpAddress::v4(10, 42, 1, 2);
    a.origin_endpoint = SocketAddress::parse("198.51.100.7:51820");
    a.routable_networks = {*Prefix::parse("192.168.5.0/24")};
    a.hop_count = hop;
    a.timestamp = 1'700'000'000;
    a.nonce.fill(7);
    return a;
}

TEST(DandelionRouter, EpochZeroUntilFirstRotation) {
    DandelionRouter router(test_seed(), key(0), [] { return false; });
    EXPECT_EQ(router.epoch().id, 0u);
    EXPECT_TRUE(router.epoch().relays.empty());
    auto peers = test_peers();
    router.rotate(peers);
    EXPECT_EQ(router.epoch().id, 1u);
    ASSERT_EQ(router.epoch().relays.size(), 2u);
    EXPECT_EQ(router.epoch().relays[0].wg_pubkey, key(5));
    EXPECT_EQ(router.epoch().relays[1].wg_pubkey, key(3));
    router.rotate(peers);
    EXPECT_EQ(router.epoch().id, 2u);
    EXPECT_EQ(router.epoch().relays[0].wg_pubkey, key(3));
    EXPECT_EQ(router.epoch().relays[1].wg_pubkey, key(1));
}

TEST(DandelionRouter, StemsToRelayByHopWhenTheCoinSaysStem) {
    DandelionRouter router(test_seed(), key(0), [] { return false; });
    auto peers = test_peers();
    router.rotate(peers);  // relays [5, 3]
    for (std::uint8_t hop = 0; hop < 3; ++hop) {
        auto decision = router.route(sample_announce(hop));
        const std::uint8_t next = hop + 1;
        EXPECT_EQ(decision.announce.hop_count, next);
        ASSERT_EQ(decision.action, AnnounceAction::kStem) << int(hop);
        ASSERT_TRUE(decision.relay);
        EXPECT_EQ(decision.relay->wg_pubkey, key(next % 2 == 0 ? 5 : 3));
    }
}

TEST(DandelionRouter, FluffsAtFourHopsAndCapsTheCount) {
    DandelionRouter router(test_seed(), key(0), [] { return false; });
    auto peers = test_peers();
    router.rotate(peers);
    for (std::uint8_t hop : {3, 4, 5, 200, 255}) {
        auto decision = router.route(sample_announce(hop));
        EXPECT_EQ(decision.action, AnnounceAction::kFluff) << int(hop);
        EXPECT_EQ(decision.announce.hop_count, kMaxStemHops) << int(hop);
        EXPECT_FALSE(decision.relay);
    }
}

TEST(DandelionRouter, FluffsOnTheCoinAndWithoutRelays) {
    DandelionRouter coin_fluff(test_seed(), key(0), [] { return true; });
    auto peers = test_peers();
    coin_fluff.rotate(peers);
    EXPECT_EQ(coin_fluff.route(sample_announce(0)).action, AnnounceAction::kFluff);

    DandelionRouter no_relays(test_seed(), key(0), [] { return false; });
    EXPECT_EQ(no_relays.route(sample_announce(0)).action, AnnounceAction::kFluff);
    std::vector<Peer> only_self{peers[0]};
    no_relays.rotate(only_self);
    EXPECT_EQ(no_relays.route(sample_announce(1)).action, AnnounceAction::kFluff);
}

TEST(CsprngFluffCoin, IsAboutTenPercent) {
    int fluffs = 0;
    constexpr int kDraws = 20000;
    for (int i = 0; i < kDraws; ++i) {
        fluffs += csprng_fluff_coin() ? 1 : 0;
    }
    // Binomial(20000, 0.1): mean 2000, sd 42; this band is > 10 sd wide.
    EXPECT_GT(fluffs, 1500);
    EXPECT_LT(fluffs, 2500);
}

TEST(Announce, RoundTripsThroughGoCompatibleJson) {
    const Announce a = sample_announce(2);
    const std::string text = serialize_announce(a);
    const auto doc = nlohmann::json::parse(text);
    EXPECT_EQ(doc["origin_pubkey"], kKeys[1]);
    EXPECT_EQ(doc["origin_mesh_ip"], "10.42.1.2");
    EXPECT_EQ(doc["origin_endpoint"], "198.51.100.7:51820");
    EXPECT_EQ(doc["hop_count"], 2);
    EXPECT_EQ(doc["nonce"], "BwcHBwcHBwcHBwcHBwcHBw==");  // Go encodes []byte as base64
    auto parsed = parse_announce(text);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, a);

    Announce bare = a;
    bare.routable_networks.clear();
    bare.origin_endpoint.reset();
    const auto bare_doc = nlohmann::json::parse(serialize_announce(bare));
    EXPECT_FALSE(bare_doc.contains("routable_networks"));
    EXPECT_EQ(bare_doc["origin_endpoint"], "");
    EXPECT_EQ(*parse_announce(serialize_announce(bare)), bare);
}

TEST(Announce, MakeAnnounceUsesFreshNonces) {
    auto a = make_announce(key(1), IpAddress::v4(10, 1, 2, 3), std::nullopt, {});
    auto b = make_announce(key(1), IpAddress::v4(10, 1, 2, 3), std::nullopt, {});
    EXPECT_EQ(a.hop_count, 0);
    EXPECT_GT(a.timestamp, 1'600'000'000);
    EXPECT_NE(a.nonce, b.nonce);
}

TEST(Announce, StrictParserRejectsBadInput) {
    auto with = [](const char* field, nlohmann::json value) {
        auto doc = nlohmann::json::parse(serialize_announce(sample_announce(1)));
        if (value.is_discarded()) {
            doc.erase(field);
        } else {
            doc[field] = value;
        }
        return doc.dump();
    };
    const nlohmann::json missing(nlohmann::json::value_t::discarded);
    EXPECT_TRUE(parse_announce(with("extra_field", 1)));
    for (const auto& text : {
             with("origin_pubkey", "short"),
             with("origin_pubkey", std::string(64, 'a')),  // hex is not what Go sends
             with("origin_pubkey", missing),
             with("origin_mesh_ip", "10.1"),
             with("origin_mesh_ip", 5),
             with("origin_endpoint", "host:1"),
             with("origin_endpoint", missing),
             with("routable_networks", "10.0.0.0/8"),
             with("routable_networks", nlohmann::json::array({"10.0.0.0/40"})),
             with("hop_count", 256),
             with("hop_count", -1),
             with("hop_count", 1.5),
             with("hop_count", "1"),
             with("timestamp", -5),
             with("timestamp", missing),
             with("nonce", "AAAA"),
             with("nonce", "!!"),
             with("nonce", missing),
             std::string("[]"),
             std::string("{"),
             std::string(70000, ' '),
             std::string(100, '[') + std::string(100, ']'),
         }) {
        EXPECT_FALSE(parse_announce(text)) << text.substr(0, 200);
    }
}

}  // namespace
}  // namespace wgmesh::mesh
