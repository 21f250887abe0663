// Caches written by the Go daemon (pkg/daemon/cache.go, json.MarshalIndent with two-space
// indent): every peer and every field reads back, and writing it out again keeps each
// field's value byte for byte. Hostnames are whatever the Go daemon was given.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mesh/hostname.h"
#include "mesh/peer_cache.h"
#include "mesh/terminal_text.h"

namespace wgmesh::mesh {
namespace {

using netlink::IpAddress;
using netlink::Prefix;
using netlink::SocketAddress;

constexpr std::int64_t kNow = 1'700'000'000;

std::vector<std::string> keys(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(wg::Key::generate_private().public_key().to_base64());
    }
    return out;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

// 126 two-byte characters and one ASCII letter: exactly the 253-byte limit.
std::string longest_hostname() {
    std::string name;
    for (int i = 0; i < 126; ++i) {
        name += "\xc3\xa9";  // é
    }
    return name + "a";
}

// Byte for byte what MarshalIndent writes: struct field order, omitempty fields missing,
// mesh_ip and endpoint always present, <>& as \u003c \u003e \u0026, U+2028 as \u2028,
// other non-ASCII raw, no newline at the end. Invalid UTF-8 was replaced by U+FFFD.
std::string go_cache(const std::vector<std::string>& k) {
    std::string text = R"({
  "peers": [
    {
      "wg_pubkey": "KEY0",
      "hostname": "Büro-Router",
      "mesh_ip": "10.42.3.4",
      "endpoint": "203.0.113.9:51820",
      "nat_type": "cone",
      "last_seen": 1699999990
    },
    {
      "wg_pubkey": "KEY1",
      "hostname": "edge co",
      "mesh_ip": "10.42.3.5",
      "mesh_ipv6": "fd12:3456:789a:1::5",
      "endpoint": "[2001:db8::1]:51820",
      "nat_type": "symmetric",
      "last_seen": 1699999991
    },
    {
      "wg_pubkey": "KEY2",
      "hostname": "路由器",
      "mesh_ip": "10.42.3.6",
      "endpoint": "198.51.100.7:4500",
      "introducer": true,
      "routable_networks": [
        "10.10.0.0/16",
        "0.0.0.0/0"
      ],
      "nat_type": "unknown",
      "last_seen": 1699999992
    },
    {
      "wg_pubkey": "KEY3",
      "hostname": "emoji-🚀",
      "mesh_ip": "10.42.3.7",
      "endpoint": "",
      "last_seen": 1699999993
    },
    {
      "wg_pubkey": "KEY4",
      "hostname": "\u003cb\u003e \u0026 co",
      "mesh_ip": "10.42.3.8",
      "endpoint": "192.0.2.1:51820",
      "nat_type": "unknown",
      "last_seen": 1699999994
    },
    {
      "wg_pubkey": "KEY5",
      "hostname": "LONGEST",
      "mesh_ip": "10.42.3.9",
      "endpoint": "192.0.2.2:51820",
      "last_seen": 1699999995
    },
    {
      "wg_pubkey": "KEY6",
      "hostname": "line\u2028sep repl-�",
      "mesh_ip": "",
      "endpoint": "",
      "last_seen": 1699999996
    },
    {
      "wg_pubkey": "KEY7",
      "mesh_ip": "10.42.3.10",
      "endpoint": "192.0.2.3:51820",
      "last_seen": 1699999997
    }
  ],
  "updated_at": 1700000000
})";
    for (std::size_t i = 0; i < k.size(); ++i) {
        replace_all(text, "KEY" + std::to_string(i), k[i]);
    }
    replace_all(text, "LONGEST", longest_hostname());
    return text;
}

TEST(PeerCacheGoInterop, EveryPeerAndEveryFieldReadsBack) {
    const auto k = keys(8);
    const auto doc = parse_peer_cache(go_cache(k));
    ASSERT_FALSE(doc.error) << *doc.error;
    EXPECT_EQ(doc.invalid, 0u);
    EXPECT_EQ(doc.hostnames_dropped, 0u);
    EXPECT_EQ(doc.updated_at, kNow);
    ASSERT_EQ(doc.peers.size(), 8u);
    const std::string hostnames[] = {"Büro-Router",
                                     "edge co",
                                     "路由器",
                                     "emoji-🚀",
                                     "<b> & co",
                                     longest_hostname(),
                                     "line\u2028sep repl-\xef\xbf\xbd",
                                     ""};
    const NatType nat_types[] = {NatType::kCone,        NatType::kSymmetric,  NatType::kUnknown,
                                 NatType::kNotReported, NatType::kUnknown,    NatType::kNotReported,
                                 NatType::kNotReported, NatType::kNotReported};
    for (std::size_t i = 0; i < doc.peers.size(); ++i) {
        const Peer& p = doc.peers[i];
        EXPECT_EQ(p.wg_pubkey.to_base64(), k[i]) << i;
        EXPECT_EQ(p.hostname, hostnames[i]) << i;
        EXPECT_EQ(p.nat_type, nat_types[i]) << i;
        EXPECT_EQ(p.last_seen, Clock::time_point(std::chrono::seconds(1699999990 + i))) << i;
    }
    EXPECT_EQ(doc.peers[5].hostname.size(), kMaxHostnameBytes);
    EXPECT_EQ(doc.peers[0].mesh_ip, IpAddress::v4(10, 42, 3, 4));
    EXPECT_EQ(doc.peers[0].endpoint, SocketAddress::parse("203.0.113.9:51820"));
    EXPECT_EQ(doc.peers[1].mesh_ipv6, IpAddress::parse("fd12:3456:789a:1::5"));
    EXPECT_EQ(doc.peers[1].endpoint, SocketAddress::parse("[2001:db8::1]:51820"));
    EXPECT_TRUE(doc.peers[2].introducer);
    EXPECT_EQ(doc.peers[2].routable_networks,
              (std::vector<Prefix>{*Prefix::parse("10.10.0.0/16"), *Prefix::parse("default")}));
    EXPECT_FALSE(doc.peers[3].endpoint);
    EXPECT_FALSE(doc.peers[6].mesh_ip);
}

TEST(PeerCacheGoInterop, WriteAfterReadKeepsEveryFieldByteForByte) {
    const auto k = keys(8);
    const auto go = nlohmann::json::parse(go_cache(k));
    const auto doc = parse_peer_cache(go_cache(k));
    ASSERT_FALSE(doc.error);
    const auto ours = nlohmann::json::parse(
        serialize_peer_cache(doc.peers, Clock::time_point(std::chrono::seconds(doc.updated_at))));
    EXPECT_EQ(ours["updated_at"], go["updated_at"]);
    ASSERT_EQ(ours["peers"].size(), go["peers"].size());
    for (std::size_t i = 0; i < go["peers"].size(); ++i) {
        const auto& theirs = go["peers"][i];
        const auto& mine = ours["peers"][i];
        // Same fields present (nat_type "unknown" included, omitted ones still omitted) ...
        ASSERT_EQ(mine.size(), theirs.size()) << "peer " << i << ": " << mine.dump();
        for (const auto& [field, value] : theirs.items()) {
            ASSERT_TRUE(mine.contains(field)) << "peer " << i << " lost " << field;
            // ... and each value the same bytes (strings compare byte for byte).
            EXPECT_EQ(mine[field], value) << "peer " << i << " field " << field;
        }
    }
    // A second read of our own output gives the same peers again.
    const auto again = parse_peer_cache(ours.dump(2));
    ASSERT_EQ(again.peers.size(), doc.peers.size());
    for (std::size_t i = 0; i < doc.peers.size(); ++i) {
        EXPECT_EQ(again.peers[i].hostname, doc.peers[i].hostname);
        EXPECT_EQ(again.peers[i].nat_type, doc.peers[i].nat_type);
    }
}

TEST(PeerCacheGoInterop, StoreRoundTripKeepsHostnamesAndNatTypes) {
    const auto k = keys(8);
    const auto doc = parse_peer_cache(go_cache(k));
    PeerStore store([] { return Clock::time_point(std::chrono::seconds(kNow)); });
    for (const Peer& peer : doc.peers) {
        const auto outcome = store.update(peer, kCacheMethod);
        EXPECT_TRUE(outcome.accepted()) << outcome.reason;
        EXPECT_TRUE(outcome.note.empty()) << outcome.note;
    }
    const auto reread = parse_peer_cache(serialize_peer_cache(store.all(), store.now()));
    ASSERT_EQ(reread.peers.size(), doc.peers.size());
    for (const Peer& original : doc.peers) {
        bool found = false;
        for (const Peer& p : reread.peers) {
            if (p.wg_pubkey == original.wg_pubkey) {
                found = true;
                EXPECT_EQ(p.hostname, original.hostname);
                EXPECT_EQ(p.nat_type, original.nat_type);
                EXPECT_EQ(p.last_seen, original.last_seen);
            }
        }
        EXPECT_TRUE(found);
    }
}

std::string one_entry(const std::string& key, const std::string& hostname_json) {
    return R"({"wg_pubkey":")" + key + R"(","hostname":)" + hostname_json +
           R"(,"mesh_ip":"10.42.0.1","endpoint":"","last_seen":1700000000})";
}

TEST(PeerCacheGoInterop, AnInvalidHostnameIsDroppedAndThePeerKept) {
    const auto k = keys(7);
    const std::string too_long = "\"" + std::string(kMaxHostnameBytes + 1, 'h') + "\"";
    const std::pair<std::string, std::string> cases[] = {
        {R"("esc\u001b[31mred")", "control character U+001B"},
        {R"("nul\u0000byte")", "control character U+0000"},
        {R"("del)"
         "\x7f"
         R"(")",
         "control character U+007F"},
        {R"("c1\u0085next")", "control character U+0085"},
        {R"("tab\there")", "control character U+0009"},
        {too_long, "254 bytes"},
        {"5", "not a string"},
    };
    std::string text = R"({"peers":[)";
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        if (i > 0) {
            text += ',';
        }
        text += one_entry(k[i], cases[i].first);
    }
    const auto doc = parse_peer_cache(text + "]}");
    ASSERT_FALSE(doc.error) << *doc.error;
    EXPECT_EQ(doc.invalid, 0u);
    ASSERT_EQ(doc.peers.size(), std::size(cases)) << "a hostname never costs the peer";
    EXPECT_EQ(doc.hostnames_dropped, std::size(cases));
    ASSERT_EQ(doc.dropped_hostnames.size(), std::size(cases));
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        EXPECT_TRUE(doc.peers[i].hostname.empty()) << i;
        EXPECT_EQ(doc.peers[i].mesh_ip, IpAddress::v4(10, 42, 0, 1)) << i;
        const auto& issue = doc.dropped_hostnames[i];
        EXPECT_EQ(issue.index, i);
        EXPECT_EQ(issue.key, k[i]);
        EXPECT_NE(issue.reason.find(cases[i].second), std::string::npos)
            << i << ": " << issue.reason;
    }
}

TEST(PeerCacheGoInterop, InvalidUtf8HostnamesNeverReachTheFile) {
    // Raw invalid UTF-8 is not JSON (the whole document is refused); a peer built in
    // memory with one loses the hostname in the store and, failing that, in the writer.
    Peer p;
    p.wg_pubkey = wg::Key::generate_private().public_key();
    p.hostname = "bad-\xff\xfe";
    p.last_seen = Clock::time_point(std::chrono::seconds(kNow));
    const auto doc = parse_peer_cache(serialize_peer_cache({p}, p.last_seen));
    ASSERT_FALSE(doc.error);
    ASSERT_EQ(doc.peers.size(), 1u);
    EXPECT_TRUE(doc.peers[0].hostname.empty());

    PeerStore store;
    const auto outcome = store.update(p, "gossip");
    EXPECT_TRUE(outcome.accepted()) << outcome.reason;
    EXPECT_NE(outcome.note.find("not valid UTF-8"), std::string::npos) << outcome.note;
    EXPECT_TRUE(store.get(p.wg_pubkey)->hostname.empty());
}

TEST(PeerCacheGoInterop, SkippedEntriesAreNamedByPositionKeyAndReason) {
    const auto k = keys(1);
    const std::string good = one_entry(k[0], R"("ok")");
    const std::string text = R"({"peers":[)" + good + R"(,
      {"wg_pubkey":"bad\u001bkey","last_seen":1},
      42,
      {"wg_pubkey":")" + k[0] +
                             R"(","mesh_ip":"10.1.2","last_seen":1},
      {"wg_pubkey":")" + k[0] +
                             R"(","mesh_ip":"10.1.2.3"},
      {"wg_pubkey":")" + k[0] +
                             R"(","routable_networks":["10.0.0.0/8","x","y"],"last_seen":1},
      {"mesh_ip":"10.1.2.3","last_seen":1},
      {"wg_pubkey":")" + k[0] +
                             R"(","mesh_ipv6":"10.0.0.1","last_seen":1},
      {"wg_pubkey":")" + k[0] +
                             R"(","endpoint":"example.com:1","last_seen":1}
    ]})";
    const auto doc = parse_peer_cache(text);
    ASSERT_FALSE(doc.error);
    EXPECT_EQ(doc.peers.size(), 1u);
    EXPECT_EQ(doc.invalid, 8u);
    ASSERT_EQ(doc.skipped.size(), 8u);
    struct Expected {
        std::size_t index;
        std::string key;
        std::string reason;
    };
    const Expected expected[] = {
        {1, "bad\\x1bkey", "wg_pubkey is not a base64 WireGuard key"},
        {2, "", "not a JSON object"},
        {3, k[0], "mesh_ip is not an IPv4 address"},
        {4, k[0], "last_seen missing"},
        {5, k[0], "routable_networks[1] is not a CIDR"},
        {6, "", "wg_pubkey missing"},
        {7, k[0], "mesh_ipv6 is not an IPv6 address"},
        {8, k[0], "endpoint is not an IP:port address"},
    };
    for (std::size_t i = 0; i < std::size(expected); ++i) {
        EXPECT_EQ(doc.skipped[i].index, expected[i].index) << i;
        EXPECT_EQ(doc.skipped[i].key, expected[i].key) << i;
        EXPECT_EQ(doc.skipped[i].reason, expected[i].reason) << i;
    }
    const auto lines = describe_entry_issues(doc.skipped, doc.invalid);
    ASSERT_EQ(lines.size(), kEntryIssueLines + 1);
    EXPECT_EQ(lines[0], R"(peers[1] "bad\x1bkey": wg_pubkey is not a base64 WireGuard key)");
    EXPECT_EQ(lines[1], "peers[2]: not a JSON object");
    EXPECT_EQ(lines.back(), "and 3 more");
    for (const auto& line : lines) {
        EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    }
}

TEST(PeerCacheGoInterop, OnlyTheFirstSkippedEntriesAreDescribedButAllAreCounted) {
    std::string text = R"({"peers":[)";
    for (int i = 0; i < 1000; ++i) {
        text += (i ? ",1" : "1");
    }
    const auto doc = parse_peer_cache(text + "]}");
    EXPECT_EQ(doc.invalid, 1000u);
    EXPECT_EQ(doc.skipped.size(), kMaxRecordedEntryIssues);
    const auto lines = describe_entry_issues(doc.skipped, doc.invalid);
    EXPECT_EQ(lines.back(), "and 995 more");
}

TEST(PeerCacheGoInterop, AnInvalidUtf8CacheGivesAnErrorWithoutRawBytes) {
    const std::string text =
        std::string(R"({"peers":[{"wg_pubkey":"x","hostname":"a)") + "\xff\xfe\x1b[2J" + R"("}]})";
    const auto doc = parse_peer_cache(text);
    ASSERT_TRUE(doc.error);
    const std::string& error = *doc.error;
    EXPECT_TRUE(is_valid_utf8(error)) << error;
    for (const char c : error) {
        const auto byte = static_cast<unsigned char>(c);
        EXPECT_TRUE(byte >= 0x20 && byte < 0x7f) << "raw byte " << int(byte) << " in " << error;
    }
    EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
}

TEST(PeerCacheGoInterop, NatTypeMergeFollowsTheGoDaemon) {
    PeerStore store;
    Peer p;
    p.wg_pubkey = wg::Key::generate_private().public_key();
    p.nat_type = NatType::kCone;
    ASSERT_TRUE(store.update(p, "gossip").accepted());
    p.nat_type = NatType::kNotReported;  // says nothing: keeps "cone"
    store.update(p, "gossip");
    EXPECT_EQ(store.get(p.wg_pubkey)->nat_type, NatType::kCone);
    p.nat_type = NatType::kUnknown;  // a report like any other: overwrites
    store.update(p, "gossip");
    EXPECT_EQ(store.get(p.wg_pubkey)->nat_type, NatType::kUnknown);
}

}  // namespace
}  // namespace wgmesh::mesh
