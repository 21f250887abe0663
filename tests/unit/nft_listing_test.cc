#include "netlink/nft_listing.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace wgmesh::netlink {
namespace {

// Recorded from `nft -j list ruleset` (nftables 1.0.6) in a Docker-like namespace.
constexpr const char* kRuleset = R"({"nftables": [
  {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
  {"table": {"family": "ip", "name": "filter", "handle": 1}},
  {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1, "type": "filter",
             "hook": "forward", "prio": 0, "policy": "drop"}},
  {"chain": {"family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 4}},
  {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3,
            "comment": "wgmesh:mesh0", "expr": [
     {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "mesh0"}},
     {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "mesh0"}},
     {"accept": null}]}},
  {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 2, "expr": [
     {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "docker0"}},
     {"accept": null}]}},
  {"set": {"family": "ip", "name": "s", "table": "filter", "type": "ipv4_addr", "handle": 5}},
  {"table": {"family": "inet", "name": "filter", "handle": 2}},
  {"chain": {"family": "inet", "table": "filter", "name": "forward", "handle": 1,
             "type": "filter", "hook": "forward", "prio": -150, "policy": "accept"}}]})";

TEST(NftListing, ParsesTablesChainsAndRulesInOrder) {
    const NftListing listing = parse_nft_listing(kRuleset);
    ASSERT_EQ(listing.tables.size(), 2U);
    EXPECT_EQ(listing.tables[1].family, "inet");
    EXPECT_EQ(listing.tables[1].name, "filter");

    ASSERT_EQ(listing.chains.size(), 3U);
    const NftChain& forward = listing.chains[0];
    EXPECT_TRUE(forward.is_base());
    EXPECT_EQ(forward.hook, "forward");
    EXPECT_EQ(forward.type, "filter");
    EXPECT_EQ(forward.policy, "drop");
    EXPECT_EQ(forward.priority, 0);
    EXPECT_FALSE(listing.chains[1].is_base());
    EXPECT_FALSE(listing.chains[1].priority.has_value());
    EXPECT_EQ(listing.chains[2].priority, -150);

    ASSERT_EQ(listing.rules.size(), 2U);
    EXPECT_EQ(listing.rules[0].handle, 3U);
    EXPECT_EQ(listing.rules[0].comment, "wgmesh:mesh0");
    EXPECT_EQ(listing.rules[0].expr.size(), 3U);
    EXPECT_EQ(listing.rules[1].handle, 2U);
    EXPECT_EQ(listing.rules[1].comment, "");
}

TEST(NftListing, EmptyRulesetHasNothing) {
    const NftListing listing = parse_nft_listing(R"({"nftables": [{"metainfo": {}}]})");
    EXPECT_TRUE(listing.tables.empty());
    EXPECT_TRUE(listing.chains.empty());
    EXPECT_TRUE(listing.rules.empty());
}

TEST(NftListing, RejectsMalformedListings) {
    for (const char* bad : {
             "",
             "not json",
             "[]",
             R"({"nftables": {}})",
             R"({"other": []})",
             R"({"nftables": [1]})",
             R"({"nftables": [{"a": {}, "b": {}}]})",
             R"({"nftables": [{"table": {"family": "ip"}}]})",
             R"({"nftables": [{"table": {"family": "", "name": "x"}}]})",
             R"({"nftables": [{"chain": {"family": "ip", "table": "t"}}]})",
             R"({"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c"}}]})",
             R"({"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c",
                                        "handle": -1}}]})",
             R"({"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c",
                                        "handle": "3"}}]})",
             R"({"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c",
                                        "handle": 3, "expr": {}}}]})",
         }) {
        EXPECT_THROW(parse_nft_listing(bad), std::invalid_argument) << bad;
    }
}

TEST(NftListing, RejectsAbsurdNestingWithoutCrashing) {
    const std::string deep = R"({"nftables": [{"rule": {"expr": )" + std::string(100000, '[') +
                             std::string(100000, ']') + "}}]}";
    EXPECT_THROW(parse_nft_listing(deep), std::invalid_argument);
}

}  // namespace
}  // namespace wgmesh::netlink
