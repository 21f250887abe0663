#include "netlink/nft_forwarding_plan.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace wgmesh::netlink {
namespace {

using nlohmann::json;

TEST(NftForwardingPlan, NamesDeriveFromTheInterface) {
    EXPECT_EQ(forwarding_table_name("wg0"), "wgmesh-wg0");
    EXPECT_EQ(forwarding_rule_comment("wg0"), "wgmesh:wg0");
}

TEST(NftForwardingPlan, EnsureIsOneBatchThatCreatesFlushesAndAddsOneRule) {
    const json expected = json::parse(R"({"nftables": [
      {"add": {"table": {"family": "inet", "name": "wgmesh-wg0"}}},
      {"add": {"chain": {"family": "inet", "table": "wgmesh-wg0", "name": "forward",
                         "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}},
      {"flush": {"chain": {"family": "inet", "table": "wgmesh-wg0", "name": "forward"}}},
      {"add": {"rule": {"family": "inet", "table": "wgmesh-wg0", "chain": "forward",
                        "comment": "wgmesh:wg0",
                        "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wg0"}},
        {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wg0"}},
        {"accept": null}]}}}
    ]})");
    EXPECT_EQ(ensure_own_table_commands("wg0"), expected)
        << ensure_own_table_commands("wg0").dump(2);
}

TEST(NftForwardingPlan, RebuildReplacesTheTableInOneBatch) {
    const json commands = rebuild_own_table_commands("wg0")["nftables"];
    ASSERT_EQ(commands.size(), 5U);
    EXPECT_EQ(commands[0],
              json::parse(R"({"add": {"table": {"family": "inet", "name": "wgmesh-wg0"}}})"));
    EXPECT_EQ(commands[1],
              json::parse(R"({"delete": {"table": {"family": "inet", "name": "wgmesh-wg0"}}})"));
    EXPECT_EQ(commands[2], commands[0]);
    EXPECT_EQ(commands[3], ensure_own_table_commands("wg0")["nftables"][1]);
    EXPECT_EQ(commands[4], ensure_own_table_commands("wg0")["nftables"][3]);
}

TEST(NftForwardingPlan, RemoveDeletesTheTableEvenWhenMissing) {
    EXPECT_EQ(remove_own_table_commands("wg0"), json::parse(R"({"nftables": [
      {"add": {"table": {"family": "inet", "name": "wgmesh-wg0"}}},
      {"delete": {"table": {"family": "inet", "name": "wgmesh-wg0"}}}]})"));
}

TEST(NftForwardingPlan, ListCommands) {
    EXPECT_EQ(list_chains_command(), json::parse(R"({"nftables": [{"list": {"chains": {}}}]})"));
    EXPECT_EQ(list_chain_command({"ip6", "filter", "FORWARD"}),
              json::parse(R"({"nftables": [{"list": {"chain":
                  {"family": "ip6", "table": "filter", "name": "FORWARD"}}}]})"));
}

NftChain chain(std::string family, std::string table, std::string name, std::string hook,
               std::string policy) {
    NftChain c;
    c.family = std::move(family);
    c.table = std::move(table);
    c.name = std::move(name);
    c.hook = std::move(hook);
    c.type = c.hook.empty() ? "" : "filter";
    c.policy = std::move(policy);
    return c;
}

TEST(NftForwardingPlan, FindsOnlyIptablesNftForwardBaseChains) {
    NftListing listing;
    listing.chains = {
        chain("ip", "filter", "FORWARD", "forward", "drop"),
        chain("ip6", "filter", "FORWARD", "forward", "accept"),
        chain("ip", "filter", "INPUT", "input", "drop"),
        chain("ip", "filter", "DOCKER-USER", "", ""),
        chain("inet", "filter", "FORWARD", "forward", "drop"),
        chain("ip", "nat", "FORWARD", "forward", "accept"),
        chain("ip", "filter2", "FORWARD", "forward", "drop"),
    };
    const std::vector<ForeignChain> expected = {{"ip", "filter", "FORWARD"},
                                                {"ip6", "filter", "FORWARD"}};
    EXPECT_EQ(iptables_forward_chains(listing), expected);
}

TEST(NftForwardingPlan, ReportsDroppingForwardChainsWeDoNotManage) {
    NftListing listing;
    listing.chains = {
        chain("ip", "filter", "FORWARD", "forward", "drop"),        // patched by us
        chain("inet", "wgmesh-wg0", "forward", "forward", "drop"),  // ours
        chain("inet", "filter", "forward", "forward", "drop"),
        chain("inet", "firewalld", "filter_FORWARD", "forward", "accept"),
        chain("ip", "other", "fw", "forward", "drop"),
        chain("bridge", "br", "forward", "forward", "drop"),
        chain("inet", "filter", "input", "input", "drop"),
    };
    const std::vector<NftChain> found = unmanaged_dropping_forward_chains(listing, "wg0");
    ASSERT_EQ(found.size(), 2U);
    EXPECT_EQ(found[0].table, "filter");
    EXPECT_EQ(found[0].family, "inet");
    EXPECT_EQ(found[1].table, "other");
}

NftRule rule(std::uint64_t handle, std::string comment, json expr,
             std::string chain_name = "FORWARD") {
    NftRule r;
    r.family = "ip";
    r.table = "filter";
    r.chain = std::move(chain_name);
    r.handle = handle;
    r.comment = std::move(comment);
    r.expr = std::move(expr);
    return r;
}

const ForeignChain kForward{"ip", "filter", "FORWARD"};
const json kDockerJump = json::parse(R"([{"jump": {"target": "DOCKER-USER"}}])");

TEST(ForeignChainPlan, InsertsWhenOurRuleIsMissing) {
    NftListing listing;
    listing.rules = {rule(2, "", kDockerJump), rule(3, "wgmesh:wg1", relay_accept_expr("wg1"))};
    const ForeignChainPlan plan = plan_foreign_chain_ensure(listing, kForward, "wg0");
    EXPECT_TRUE(plan.insert_at_top);
    EXPECT_TRUE(plan.delete_handles.empty());
}

TEST(ForeignChainPlan, LeavesACorrectRuleWhereverItIs) {
    NftListing listing;
    listing.rules = {rule(2, "", kDockerJump), rule(7, "wgmesh:wg0", relay_accept_expr("wg0"))};
    EXPECT_TRUE(plan_foreign_chain_ensure(listing, kForward, "wg0").empty());
}

TEST(ForeignChainPlan, DeletesDuplicatesAndRulesWithOurCommentButAnotherExpression) {
    NftListing listing;
    listing.rules = {rule(4, "wgmesh:wg0", relay_accept_expr("wg9")),
                     rule(5, "wgmesh:wg0", relay_accept_expr("wg0")),
                     rule(6, "wgmesh:wg0", relay_accept_expr("wg0")),
                     rule(8, "wgmesh:wg0", relay_accept_expr("wg0"), "OTHER")};
    const ForeignChainPlan plan = plan_foreign_chain_ensure(listing, kForward, "wg0");
    EXPECT_FALSE(plan.insert_at_top);
    EXPECT_EQ(plan.delete_handles, (std::vector<std::uint64_t>{4, 6}));
}

TEST(ForeignChainPlan, ReplacesOurRuleWhenOnlyAWrongOneIsThere) {
    NftListing listing;
    listing.rules = {rule(4, "wgmesh:wg0", kDockerJump)};
    const ForeignChainPlan plan = plan_foreign_chain_ensure(listing, kForward, "wg0");
    EXPECT_TRUE(plan.insert_at_top);
    EXPECT_EQ(plan.delete_handles, (std::vector<std::uint64_t>{4}));
}

TEST(ForeignChainPlan, RemoveTakesEveryRuleWithOurCommentAndNothingElse) {
    NftListing listing;
    listing.rules = {rule(2, "", kDockerJump), rule(3, "wgmesh:wg0", relay_accept_expr("wg0")),
                     rule(4, "wgmesh:wg1", relay_accept_expr("wg1")),
                     rule(5, "wgmesh:wg0", kDockerJump), rule(6, "other", kDockerJump)};
    const ForeignChainPlan plan = plan_foreign_chain_remove(listing, kForward, "wg0");
    EXPECT_FALSE(plan.insert_at_top);
    EXPECT_EQ(plan.delete_handles, (std::vector<std::uint64_t>{3, 5}));
}

TEST(ForeignChainPlan, CommandsDeleteByHandleThenInsertAtTop) {
    json commands = {{"nftables", json::array()}};
    ForeignChainPlan plan;
    plan.delete_handles = {4, 6};
    plan.insert_at_top = true;
    append_foreign_chain_commands(commands, kForward, plan, "wg0");
    EXPECT_EQ(commands, json::parse(R"({"nftables": [
      {"delete": {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 4}}},
      {"delete": {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 6}}},
      {"insert": {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD",
                           "comment": "wgmesh:wg0",
                           "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wg0"}},
        {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wg0"}},
        {"accept": null}]}}}]})"))
        << commands.dump(2);
}

}  // namespace
}  // namespace wgmesh::netlink
