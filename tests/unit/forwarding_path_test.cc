// The forwarding-path check's decisions, from fixed inputs: rulesets as nft 1.0.6 prints them
// (`nft -j list ruleset` of Docker-, firewalld- and ufw-like tables; counters and handles
// included) and sysctl values as read. tests/netns/forwarding_path_test.cc builds the same
// rulesets in a namespace and reads them back through the probe.
#include "mesh/forwarding_path.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "netlink/nft_listing.h"

namespace wgmesh::mesh {
namespace {

using nlohmann::json;

constexpr const char* kIf = "wg0";

constexpr const char* kDockerLike = R"({"nftables":[
  {"table":{"family":"ip","name":"filter","handle":5}},
  {"chain":{"family":"ip","table":"filter","name":"DOCKER","handle":1}},
  {"chain":{"family":"ip","table":"filter","name":"DOCKER-ISOLATION-STAGE-1","handle":2}},
  {"chain":{"family":"ip","table":"filter","name":"DOCKER-ISOLATION-STAGE-2","handle":3}},
  {"chain":{"family":"ip","table":"filter","name":"DOCKER-USER","handle":4}},
  {"chain":{"family":"ip","table":"filter","name":"FORWARD","handle":5,"type":"filter","hook":"forward","prio":0,"policy":"drop"}},
  {"rule":{"family":"ip","table":"filter","chain":"DOCKER-ISOLATION-STAGE-1","handle":6,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"docker0"}},{"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"docker0"}},{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"DOCKER-ISOLATION-STAGE-2"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"DOCKER-ISOLATION-STAGE-1","handle":7,"expr":[{"counter":{"packets":0,"bytes":0}},{"return":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"DOCKER-ISOLATION-STAGE-2","handle":8,"expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"docker0"}},{"counter":{"packets":0,"bytes":0}},{"drop":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"DOCKER-ISOLATION-STAGE-2","handle":9,"expr":[{"counter":{"packets":0,"bytes":0}},{"return":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"DOCKER-USER","handle":10,"expr":[{"counter":{"packets":0,"bytes":0}},{"return":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":11,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"DOCKER-USER"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":12,"comment":"wgmesh:wg0","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wg0"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wg0"}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":13,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"DOCKER-ISOLATION-STAGE-1"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":14,"expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"docker0"}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":15,"expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"docker0"}},{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"DOCKER"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":16,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"docker0"}},{"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"docker0"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":17,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"docker0"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"docker0"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"table":{"family":"inet","name":"wgmesh-wg0","handle":6}},
  {"chain":{"family":"inet","table":"wgmesh-wg0","name":"forward","handle":1,"type":"filter","hook":"forward","prio":0,"policy":"accept"}},
  {"rule":{"family":"inet","table":"wgmesh-wg0","chain":"forward","handle":2,"comment":"wgmesh:wg0","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wg0"}},{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wg0"}},{"accept":null}]}}
]})";

constexpr const char* kFirewalldLike = R"({"nftables":[
  {"table":{"family":"inet","name":"firewalld","handle":7}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FORWARD","handle":1,"type":"filter","hook":"forward","prio":10,"policy":"accept"}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FORWARD_ZONES","handle":2}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FWD_public","handle":3}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FWD_public_pre","handle":4}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FWD_public_log","handle":5}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FWD_public_deny","handle":6}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FWD_public_allow","handle":7}},
  {"chain":{"family":"inet","table":"firewalld","name":"filter_FWD_public_post","handle":8}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD","handle":10,"expr":[{"match":{"op":"==","left":{"ct":{"key":"state"}},"right":{"set":["established","related"]}}},{"accept":null}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD","handle":11,"expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD","handle":12,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"lo"}},{"accept":null}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD","handle":13,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"invalid"}},{"drop":null}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD","handle":15,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip6","field":"daddr"}},"right":{"set":[{"prefix":{"addr":"::","len":96}},{"prefix":{"addr":"::ffff:0.0.0.0","len":96}},{"prefix":{"addr":"2002::","len":24}},{"prefix":{"addr":"2002:a00::","len":24}},{"prefix":{"addr":"2002:7f00::","len":24}},{"prefix":{"addr":"2002:a9fe::","len":32}},{"prefix":{"addr":"2002:ac10::","len":28}},{"prefix":{"addr":"2002:c0a8::","len":32}},{"prefix":{"addr":"2002:e000::","len":19}}]}}},{"reject":{"type":"icmpv6","expr":"addr-unreachable"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD","handle":16,"expr":[{"jump":{"target":"filter_FORWARD_ZONES"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD","handle":17,"expr":[{"reject":{"type":"icmpx","expr":"admin-prohibited"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD_ZONES","handle":18,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"eth0"}},{"goto":{"target":"filter_FWD_public"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FORWARD_ZONES","handle":19,"expr":[{"goto":{"target":"filter_FWD_public"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FWD_public","handle":20,"expr":[{"jump":{"target":"filter_FWD_public_pre"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FWD_public","handle":21,"expr":[{"jump":{"target":"filter_FWD_public_log"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FWD_public","handle":22,"expr":[{"jump":{"target":"filter_FWD_public_deny"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FWD_public","handle":23,"expr":[{"jump":{"target":"filter_FWD_public_allow"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FWD_public","handle":24,"expr":[{"jump":{"target":"filter_FWD_public_post"}}]}},
  {"rule":{"family":"inet","table":"firewalld","chain":"filter_FWD_public_allow","handle":25,"expr":[{"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"eth0"}},{"accept":null}]}}
]})";

constexpr const char* kUfwLike = R"({"nftables":[
  {"table":{"family":"ip","name":"filter","handle":8}},
  {"chain":{"family":"ip","table":"filter","name":"FORWARD","handle":1,"type":"filter","hook":"forward","prio":0,"policy":"drop"}},
  {"chain":{"family":"ip","table":"filter","name":"ufw-before-logging-forward","handle":2}},
  {"chain":{"family":"ip","table":"filter","name":"ufw-before-forward","handle":3}},
  {"chain":{"family":"ip","table":"filter","name":"ufw-user-forward","handle":4}},
  {"chain":{"family":"ip","table":"filter","name":"ufw-after-forward","handle":5}},
  {"chain":{"family":"ip","table":"filter","name":"ufw-after-logging-forward","handle":6}},
  {"chain":{"family":"ip","table":"filter","name":"ufw-reject-forward","handle":7}},
  {"chain":{"family":"ip","table":"filter","name":"ufw-track-forward","handle":8}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":9,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-before-logging-forward"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":10,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-before-forward"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":11,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-after-forward"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":12,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-after-logging-forward"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":13,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-reject-forward"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"FORWARD","handle":14,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-track-forward"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"ufw-before-forward","handle":15,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"ufw-before-forward","handle":16,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"icmp","field":"type"}},"right":"destination-unreachable"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"ufw-before-forward","handle":17,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"icmp","field":"type"}},"right":"time-exceeded"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"ufw-before-forward","handle":18,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"icmp","field":"type"}},"right":"parameter-problem"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"ufw-before-forward","handle":19,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"icmp","field":"type"}},"right":"echo-request"}},{"counter":{"packets":0,"bytes":0}},{"accept":null}]}},
  {"rule":{"family":"ip","table":"filter","chain":"ufw-before-forward","handle":20,"expr":[{"counter":{"packets":0,"bytes":0}},{"jump":{"target":"ufw-user-forward"}}]}},
  {"rule":{"family":"ip","table":"filter","chain":"ufw-after-logging-forward","handle":21,"expr":[{"limit":{"rate":3,"burst":10,"per":"minute"}},{"counter":{"packets":0,"bytes":0}},{"log":{"prefix":"[UFW BLOCK] "}}]}}
]})";

json ruleset(const char* text) {
    return json::parse(text);
}

// Rule objects go where they are put: listing order is evaluation order within a chain.
json rule(const std::string& family, const std::string& table, const std::string& chain,
          std::uint64_t handle, json expr) {
    return {{"rule",
             {{"family", family},
              {"table", table},
              {"chain", chain},
              {"handle", handle},
              {"expr", std::move(expr)}}}};
}

json base_chain(const std::string& family, const std::string& table, const std::string& name,
                std::int64_t priority, const std::string& policy) {
    return {{"chain",
             {{"family", family},
              {"table", table},
              {"name", name},
              {"type", "filter"},
              {"hook", "forward"},
              {"prio", priority},
              {"policy", policy}}}};
}

json regular_chain(const std::string& family, const std::string& table, const std::string& name) {
    return {{"chain", {{"family", family}, {"table", table}, {"name", name}}}};
}

json match(json left, const std::string& op, json right) {
    return {{"match", {{"op", op}, {"left", std::move(left)}, {"right", std::move(right)}}}};
}
json meta(const std::string& key) {
    return {{"meta", {{"key", key}}}};
}
json payload(const std::string& protocol, const std::string& field) {
    return {{"payload", {{"protocol", protocol}, {"field", field}}}};
}
json ct_state() {
    return {{"ct", {{"key", "state"}}}};
}
json verdict(const std::string& word) {
    return {{word, nullptr}};
}
json jump(const std::string& word, const std::string& target) {
    return {{word, {{"target", target}}}};
}

std::vector<json>& items(json& document) {
    return document["nftables"].get_ref<std::vector<json>&>();
}

// Inserts `item` before the rule with `handle`.
void insert_before(json& document, std::uint64_t handle, json item) {
    auto& list = items(document);
    for (auto it = list.begin(); it != list.end(); ++it) {
        if (it->contains("rule") && (*it)["rule"]["handle"] == handle) {
            list.insert(it, std::move(item));
            return;
        }
    }
    FAIL() << "no rule with handle " << handle;
}

void append(json& document, json item) {
    items(document).push_back(std::move(item));
}

void remove_rule(json& document, std::uint64_t handle) {
    auto& list = items(document);
    std::erase_if(list, [&](const json& item) {
        return item.contains("rule") && item["rule"]["handle"] == handle;
    });
}

std::vector<ForwardingCheck> checks_of(const json& document, bool ipv6 = false) {
    return check_forward_chains(netlink::parse_nft_listing(document.dump()), kIf, ipv6);
}

// A copy: callers pass temporaries.
ForwardingCheck find_check(const std::vector<ForwardingCheck>& checks, const std::string& name) {
    for (const ForwardingCheck& check : checks) {
        if (check.name == name) {
            return check;
        }
    }
    ADD_FAILURE() << "no check named " << name;
    return {"<missing>", CheckVerdict::kFail, "", ""};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A one-table ruleset: "inet filter forward" with `policy` and these rules (handles 1..n).
json inet_filter(const std::string& policy, const std::vector<json>& rules,
                 const std::vector<std::string>& regular_chains = {}) {
    json document = {{"nftables", json::array()}};
    append(document, {{"table", {{"family", "inet"}, {"name", "filter"}}}});
    append(document, base_chain("inet", "filter", "forward", 0, policy));
    for (const std::string& name : regular_chains) {
        append(document, regular_chain("inet", "filter", name));
    }
    std::uint64_t handle = 1;
    for (const json& item : rules) {
        json placed = item;
        placed["rule"]["handle"] = handle++;
        append(document, std::move(placed));
    }
    return document;
}

json in_chain(const std::string& chain, json expr) {
    return rule("inet", "filter", chain, 0, std::move(expr));
}

CheckVerdict verdict_of_inet_filter(const json& document, bool ipv6 = false) {
    return find_check(checks_of(document, ipv6), "nftables inet filter forward").verdict;
}

// ---------------------------------------------------------------------------------------
// Docker: iptables-nft's `ip filter FORWARD`, policy drop.

TEST(ForwardingPathDocker, OurTaggedAcceptBelowDockerUserPasses) {
    const auto checks = checks_of(ruleset(kDockerLike));
    ASSERT_EQ(checks.size(), 2u);
    // Same priority: ordered by family, then table.
    EXPECT_EQ(checks[0].name, "nftables inet wgmesh-wg0 forward");
    EXPECT_EQ(checks[0].verdict, CheckVerdict::kOk);
    EXPECT_EQ(checks[1].name, "nftables ip filter FORWARD");
    EXPECT_EQ(checks[1].verdict, CheckVerdict::kOk) << checks[1].reason;
    EXPECT_TRUE(contains(checks[1].reason, "rule handle 12 (accept, wgmesh's tagged accept)"))
        << checks[1].reason;
    EXPECT_TRUE(checks[1].action.empty());
}

TEST(ForwardingPathDocker, WithoutOurAcceptThePolicyDrops) {
    json document = ruleset(kDockerLike);
    remove_rule(document, 12);
    const ForwardingCheck check = find_check(checks_of(document), "nftables ip filter FORWARD");
    EXPECT_EQ(check.verdict, CheckVerdict::kFail);
    EXPECT_TRUE(contains(check.reason, "drops relay traffic on wg0")) << check.reason;
    EXPECT_TRUE(contains(check.reason, "its policy drop")) << check.reason;
    EXPECT_TRUE(contains(check.action, "wgmesh inserts its tagged accept")) << check.action;
    // Our own table accepts; the one dropping chain is enough to stop the packet.
    EXPECT_EQ(find_check(checks_of(document), "nftables inet wgmesh-wg0 forward").verdict,
              CheckVerdict::kOk);
}

TEST(ForwardingPathDocker, ADropInDockerUserAboveOurAcceptIsFound) {
    json document = ruleset(kDockerLike);
    insert_before(document, 10,
                  rule("ip", "filter", "DOCKER-USER", 99,
                       {match(meta("iifname"), "==", "wg0"), verdict("drop")}));
    const ForwardingCheck check = find_check(checks_of(document), "nftables ip filter FORWARD");
    EXPECT_EQ(check.verdict, CheckVerdict::kFail);
    EXPECT_TRUE(contains(check.reason, "rule handle 99 (drop) in ip filter DOCKER-USER"))
        << check.reason;
    EXPECT_TRUE(contains(check.action, "a rule above wgmesh's tagged accept")) << check.action;
}

TEST(ForwardingPathDocker, ADropOnAPortAboveOurAcceptMayDrop) {
    json document = ruleset(kDockerLike);
    insert_before(document, 10,
                  rule("ip", "filter", "DOCKER-USER", 99,
                       {match(payload("tcp", "dport"), "==", 5432), verdict("drop")}));
    const ForwardingCheck check = find_check(checks_of(document), "nftables ip filter FORWARD");
    EXPECT_EQ(check.verdict, CheckVerdict::kWarn) << check.reason;
    EXPECT_TRUE(contains(check.reason, "may drop relay traffic on wg0 (TCP")) << check.reason;
    EXPECT_TRUE(contains(check.reason, "rule handle 99 (drop) in ip filter DOCKER-USER"))
        << check.reason;
}

TEST(ForwardingPathDocker, DockersIsolationDropOnlyHitsDockerTraffic) {
    // The isolation chains drop docker0 traffic; relay traffic jumps through them untouched
    // and then has nothing but the policy: the verdict names the policy, not the isolation.
    json document = ruleset(kDockerLike);
    remove_rule(document, 12);
    const ForwardingCheck check = find_check(checks_of(document), "nftables ip filter FORWARD");
    EXPECT_FALSE(contains(check.reason, "DOCKER-ISOLATION")) << check.reason;
}

// ---------------------------------------------------------------------------------------
// firewalld: `inet firewalld filter_FORWARD`, policy accept, ending in a reject.

TEST(ForwardingPathFirewalld, TheFinalRejectDropsRelayTraffic) {
    const auto checks = checks_of(ruleset(kFirewalldLike));
    ASSERT_EQ(checks.size(), 1u);
    const ForwardingCheck& check = checks[0];
    EXPECT_EQ(check.name, "nftables inet firewalld filter_FORWARD");
    EXPECT_EQ(check.verdict, CheckVerdict::kFail);
    EXPECT_TRUE(contains(check.reason, "rule handle 17 (reject) in inet firewalld filter_FORWARD"))
        << check.reason;
    EXPECT_TRUE(contains(check.reason, "first packet of a connection")) << check.reason;
    EXPECT_TRUE(contains(check.action, "firewall-cmd")) << check.action;
}

json firewalld_forwarding_zone() {
    json document = ruleset(kFirewalldLike);
    insert_before(document, 18,
                  rule("inet", "firewalld", "filter_FORWARD_ZONES", 90,
                       {match(meta("iifname"), "==", "wg0"), jump("goto", "filter_FWD_trusted")}));
    append(document, regular_chain("inet", "firewalld", "filter_FWD_trusted"));
    append(document, regular_chain("inet", "firewalld", "filter_FWD_trusted_allow"));
    append(document, rule("inet", "firewalld", "filter_FWD_trusted", 91,
                          {jump("jump", "filter_FWD_trusted_allow")}));
    append(document, rule("inet", "firewalld", "filter_FWD_trusted_allow", 92,
                          {match(meta("oifname"), "==", "wg0"), verdict("accept")}));
    return document;
}

TEST(ForwardingPathFirewalld, AZoneThatForwardsWithinItselfPasses) {
    const auto checks = checks_of(firewalld_forwarding_zone());
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].verdict, CheckVerdict::kOk) << checks[0].reason;
    EXPECT_TRUE(contains(checks[0].reason, "rule handle 92 (accept)")) << checks[0].reason;
}

TEST(ForwardingPathFirewalld, IPv6TrafficMayMeetTheAddressReject) {
    // firewalld rejects IPv6 packets to a few special prefixes; which address a relay packet
    // has is not known, so with IPv6 routes the chain may drop (a warning, not a failure).
    const auto checks = checks_of(firewalld_forwarding_zone(), true);
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].verdict, CheckVerdict::kWarn) << checks[0].reason;
    EXPECT_TRUE(contains(checks[0].reason, "IPv6")) << checks[0].reason;
    EXPECT_TRUE(contains(checks[0].reason, "rule handle 15 (reject)")) << checks[0].reason;
}

// ---------------------------------------------------------------------------------------
// ufw (iptables-nft): `ip filter FORWARD`, policy drop, through ufw-* chains.

TEST(ForwardingPathUfw, DefaultDropForwardPolicyDropsRelayTraffic) {
    const auto checks = checks_of(ruleset(kUfwLike));
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].verdict, CheckVerdict::kFail);
    // TCP is dropped outright (ICMP echo requests would be accepted: that is not enough).
    EXPECT_TRUE(contains(checks[0].reason, "(TCP, first packet of a connection, IPv4)"))
        << checks[0].reason;
    EXPECT_TRUE(contains(checks[0].reason, "its policy drop")) << checks[0].reason;
    EXPECT_TRUE(contains(checks[0].action, "ufw route allow in on wg0 out on wg0"))
        << checks[0].action;
}

TEST(ForwardingPathUfw, RouteAllowInUfwUserForwardPasses) {
    json document = ruleset(kUfwLike);
    append(document, rule("ip", "filter", "ufw-user-forward", 30,
                          {match(meta("iifname"), "==", "wg0"),
                           match(meta("oifname"), "==", "wg0"),
                           {{"counter", nullptr}},
                           verdict("accept")}));
    const auto checks = checks_of(document);
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].verdict, CheckVerdict::kOk) << checks[0].reason;
    EXPECT_TRUE(contains(checks[0].reason, "rule handle 30 (accept) in ip filter ufw-user-forward"))
        << checks[0].reason;
}

// ---------------------------------------------------------------------------------------
// The evaluator's rules, one at a time.

TEST(ForwardingPathRules, NoForwardChainsMeansNothingFilters) {
    const auto checks = checks_of(json{{"nftables", json::array()}});
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].name, "nftables");
    EXPECT_EQ(checks[0].verdict, CheckVerdict::kOk);
}

TEST(ForwardingPathRules, LowerPriorityRunsFirstAndEveryChainMustAccept) {
    json document = inet_filter("accept", {});
    append(document, {{"table", {{"family", "ip"}, {"name", "early"}}}});
    append(document, base_chain("ip", "early", "fwd", -150, "drop"));
    const auto checks = checks_of(document);
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].name, "nftables ip early fwd");
    EXPECT_EQ(checks[0].verdict, CheckVerdict::kFail);
    EXPECT_EQ(checks[1].name, "nftables inet filter forward");
    EXPECT_EQ(checks[1].verdict, CheckVerdict::kOk);
}

TEST(ForwardingPathRules, ChainsOfOtherHooksAndFamiliesDoNotCount) {
    json document = {{"nftables", json::array()}};
    json input = base_chain("inet", "filter", "input", 0, "drop");
    input["chain"]["hook"] = "input";
    append(document, input);
    append(document, base_chain("bridge", "filter", "forward", 0, "drop"));
    append(document, base_chain("ip6", "filter", "FORWARD", 0, "drop"));
    EXPECT_EQ(checks_of(document).front().name, "nftables");  // IPv4 only: ip6 is left out
    const auto with_ipv6 = checks_of(document, true);
    ASSERT_EQ(with_ipv6.size(), 1u);
    EXPECT_EQ(with_ipv6[0].name, "nftables ip6 filter FORWARD");
    EXPECT_EQ(with_ipv6[0].verdict, CheckVerdict::kFail);
}

TEST(ForwardingPathRules, InterfaceMatchesAreDecided) {
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "drop",
                  {in_chain("forward", {match(meta("iifname"), "==", "wg*"),
                                        match(meta("oifname"), "==", "wg*"), verdict("accept")})})),
              CheckVerdict::kOk);
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "drop", {in_chain("forward",
                                    {match(meta("iifname"), "==", json{{"set", {"eth0", "wg0"}}}),
                                     verdict("accept")})})),
              CheckVerdict::kOk);
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept",
                  {in_chain("forward", {match(meta("oifname"), "!=", "eth0"), verdict("drop")})})),
              CheckVerdict::kFail);
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "accept", {in_chain("forward", {match(meta("iif"), "==", "lo"), verdict("drop")})})),
        CheckVerdict::kOk);
    // An interface index is not known: may drop.
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept", {in_chain("forward", {match(meta("iif"), "==", 7), verdict("drop")})})),
              CheckVerdict::kWarn);
    // A literal star is not a wildcard.
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept",
                  {in_chain("forward", {match(meta("iifname"), "==", "wg\\*"), verdict("drop")})})),
              CheckVerdict::kOk);
}

TEST(ForwardingPathRules, ConnectionStateIsDecidedForNewAndEstablished) {
    // Only established traffic accepted: every new connection is dropped.
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "drop",
            {in_chain("forward", {match(ct_state(), "in", json::array({"established", "related"})),
                                  verdict("accept")})})),
        CheckVerdict::kFail);
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "drop", {in_chain("forward", {match(ct_state(), "in", json::array({"established"})),
                                          verdict("accept")}),
                     in_chain("forward", {match(ct_state(), "==", "new"), verdict("accept")})})),
        CheckVerdict::kOk);
    // `ct state invalid drop` and `ct status dnat accept` concern no relay packet.
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept",
                  {in_chain("forward", {match(json{{"ct", {{"key", "status"}}}}, "in", "dnat"),
                                        verdict("accept")}),
                   in_chain("forward", {match(ct_state(), "in", "invalid"), verdict("drop")})})),
              CheckVerdict::kOk);
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept", {in_chain("forward",
                                      {match(ct_state(), "!=", "established"), verdict("drop")})})),
              CheckVerdict::kFail);
}

TEST(ForwardingPathRules, ProtocolsAreDecidedAndPortsAreNot) {
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept",
                  {in_chain("forward", {match(meta("l4proto"), "==", "udp"), verdict("drop")})})),
              CheckVerdict::kFail);
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "accept",
            {in_chain("forward", {match(payload("udp", "dport"), "==", 53), verdict("drop")})})),
        CheckVerdict::kWarn);
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "accept",
            {in_chain("forward", {match(payload("ip", "protocol"), "==", 47), verdict("drop")})})),
        CheckVerdict::kOk);  // GRE only; relay traffic is checked as TCP, UDP and ICMP
    // An address is not known, nor is an xtables match.
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "drop",
                  {in_chain("forward", {match(payload("ip", "saddr"), "==",
                                              json{{"prefix", {{"addr", "10.0.0.0"}, {"len", 8}}}}),
                                        verdict("accept")})})),
              CheckVerdict::kWarn);
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "accept", {in_chain("forward", {{{"xt", {{"type", "match"}, {"name", "addrtype"}}}},
                                            {{"xt", {{"type", "target"}, {"name", "REJECT"}}}}})})),
        CheckVerdict::kWarn);
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "accept", {in_chain("forward", {{{"xt", {{"type", "target"}, {"name", "REJECT"}}}}})})),
        CheckVerdict::kFail);
    // An IPv6 header match never applies to IPv4 packets.
    EXPECT_EQ(
        verdict_of_inet_filter(inet_filter(
            "accept",
            {in_chain("forward", {match(payload("ip6", "daddr"), "==", "::1"), verdict("drop")})})),
        CheckVerdict::kOk);
}

TEST(ForwardingPathRules, JumpsReturnAndGotosDoNot) {
    // A goto's chain ends by returning to the base chain's caller: its policy.
    EXPECT_EQ(verdict_of_inet_filter(inet_filter("accept",
                                                 {in_chain("forward", {jump("goto", "empty")}),
                                                  in_chain("forward", {verdict("drop")})},
                                                 {"empty"})),
              CheckVerdict::kOk);
    EXPECT_EQ(verdict_of_inet_filter(inet_filter("accept",
                                                 {in_chain("forward", {jump("jump", "empty")}),
                                                  in_chain("forward", {verdict("drop")})},
                                                 {"empty"})),
              CheckVerdict::kFail);
    // A return that only some packets take: the rest of the chain is for the others.
    EXPECT_EQ(verdict_of_inet_filter(
                  inet_filter("accept",
                              {in_chain("forward", {jump("jump", "sub")}),
                               in_chain("sub", {match(meta("mark"), "==", 22), verdict("return")}),
                               in_chain("sub", {verdict("drop")})},
                              {"sub"})),
              CheckVerdict::kWarn);
    // A jump that may be taken leads to a drop for some packets only.
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept",
                  {in_chain("forward", {match(meta("mark"), "==", 22), jump("jump", "sub")}),
                   in_chain("sub", {verdict("drop")})},
                  {"sub"})),
              CheckVerdict::kWarn);
    // ...and one that certainly accepts inside a possible jump does not hide a later drop.
    EXPECT_EQ(verdict_of_inet_filter(inet_filter(
                  "accept",
                  {in_chain("forward", {match(meta("mark"), "==", 22), jump("jump", "sub")}),
                   in_chain("sub", {verdict("accept")}), in_chain("forward", {verdict("drop")})},
                  {"sub"})),
              CheckVerdict::kWarn);
}

TEST(ForwardingPathRules, VerdictMapsAreDecidedOnKnownKeys) {
    json map = {{"vmap",
                 {{"key", meta("iifname")},
                  {"data",
                   {{"set", json::array({json::array({"eth0", verdict("drop")}),
                                         json::array({"wg0", verdict("accept")})})}}}}}};
    EXPECT_EQ(verdict_of_inet_filter(inet_filter("drop", {in_chain("forward", {map})})),
              CheckVerdict::kOk);
    map["vmap"]["key"] = meta("mark");
    EXPECT_EQ(verdict_of_inet_filter(inet_filter("drop", {in_chain("forward", {map})})),
              CheckVerdict::kWarn);
    map["vmap"]["data"] = "@verdicts";
    EXPECT_EQ(verdict_of_inet_filter(inet_filter("accept", {in_chain("forward", {map})})),
              CheckVerdict::kWarn);
}

TEST(ForwardingPathRules, LoopsMissingChainsAndQueuesAreNotGuessed) {
    EXPECT_EQ(verdict_of_inet_filter(inet_filter("accept",
                                                 {in_chain("forward", {jump("jump", "loop")}),
                                                  in_chain("loop", {jump("jump", "loop")})},
                                                 {"loop"})),
              CheckVerdict::kWarn);
    EXPECT_EQ(verdict_of_inet_filter(
                  inet_filter("accept", {in_chain("forward", {jump("jump", "nowhere")})})),
              CheckVerdict::kWarn);
    EXPECT_EQ(verdict_of_inet_filter(
                  inet_filter("accept", {in_chain("forward", {{{"queue", {{"num", 1}}}}})})),
              CheckVerdict::kWarn);
}

TEST(ForwardingPathRules, RulesetsTooLargeToFollowEndInAWarning) {
    // Every rule may jump into a long chain: far more visits than the bound allows.
    std::vector<json> rules;
    for (int i = 0; i < 300; ++i) {
        rules.push_back(
            in_chain("forward", {match(payload("tcp", "dport"), "==", i), jump("jump", "long")}));
    }
    for (int i = 0; i < 300; ++i) {
        rules.push_back(
            in_chain("long", {match(payload("tcp", "sport"), "==", i), verdict("accept")}));
    }
    EXPECT_EQ(verdict_of_inet_filter(inet_filter("accept", rules, {"long"})), CheckVerdict::kWarn);
}

TEST(ForwardingPathRules, HostileNamesAreShownTerminalSafe) {
    json document = {{"nftables", json::array()}};
    append(document, base_chain("inet", "t\x1b[2J", "c\nx", 0, "drop"));
    const auto checks = checks_of(document);
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].name, "nftables inet t\\x1b[2J c\\x0ax");
    EXPECT_FALSE(contains(checks[0].reason + checks[0].action, "\x1b"));
}

// ---------------------------------------------------------------------------------------
// The whole report: sysctls, chains, iptables-legacy.

netlink::SysctlReading value(const std::string& key, const std::string& text) {
    return {key, text, {}};
}

netlink::ForwardingState healthy_state() {
    netlink::ForwardingState state;
    state.interface_name = kIf;
    state.ipv4_forward = value("net.ipv4.ip_forward", "1");
    state.ipv4_interface_forwarding = value("net.ipv4.conf.wg0.forwarding", "1");
    state.rp_filter_all = value("net.ipv4.conf.all.rp_filter", "0");
    state.rp_filter_interface = value("net.ipv4.conf.wg0.rp_filter", "2");
    state.ruleset = netlink::parse_nft_listing(kDockerLike);
    return state;
}

TEST(ForwardingPathReport, HealthyNodeIsOkInAFixedOrder) {
    const ForwardingPathReport report = check_forwarding_path(healthy_state());
    std::vector<std::string> names;
    for (const ForwardingCheck& check : report.checks) {
        names.push_back(check.name);
        EXPECT_EQ(check.verdict, CheckVerdict::kOk) << check.name << ": " << check.reason;
    }
    EXPECT_EQ(names, (std::vector<std::string>{"ip_forward", "rp_filter",
                                               "nftables inet wgmesh-wg0 forward",
                                               "nftables ip filter FORWARD", "iptables_legacy"}));
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.worst(), CheckVerdict::kOk);
    EXPECT_TRUE(contains(find_check(report.checks, "rp_filter").reason, "loose"));
}

TEST(ForwardingPathReport, IpForwardOffFails) {
    netlink::ForwardingState state = healthy_state();
    state.ipv4_forward.value = "0";
    ForwardingPathReport report = check_forwarding_path(state);
    const ForwardingCheck check = find_check(report.checks, "ip_forward");
    EXPECT_EQ(check.verdict, CheckVerdict::kFail);
    EXPECT_TRUE(contains(check.reason, "net.ipv4.ip_forward is 0")) << check.reason;
    EXPECT_FALSE(report.ok());

    state = healthy_state();
    state.ipv4_interface_forwarding.value = "0";
    report = check_forwarding_path(state);
    EXPECT_EQ(find_check(report.checks, "ip_forward").verdict, CheckVerdict::kFail);
    EXPECT_TRUE(contains(find_check(report.checks, "ip_forward").reason,
                         "net.ipv4.conf.wg0.forwarding is 0"));
}

TEST(ForwardingPathReport, StrictRpFilterWarnsWhicheverSideSetsIt) {
    for (const auto& [all, interface] :
         std::vector<std::pair<std::string, std::string>>{{"1", "0"}, {"0", "1"}, {"1", "1"}}) {
        netlink::ForwardingState state = healthy_state();
        state.rp_filter_all.value = all;
        state.rp_filter_interface.value = interface;
        const ForwardingPathReport report = check_forwarding_path(state);
        const ForwardingCheck check = find_check(report.checks, "rp_filter");
        EXPECT_EQ(check.verdict, CheckVerdict::kWarn) << all << interface;
        EXPECT_TRUE(contains(check.reason, "strict reverse-path")) << check.reason;
        EXPECT_TRUE(contains(check.action, "rp_filter=2")) << check.action;
        EXPECT_TRUE(report.ok());  // a warning does not make the path not ok
    }
    netlink::ForwardingState state = healthy_state();
    state.rp_filter_all.value = "2";
    state.rp_filter_interface.value = "1";  // the larger, 2 (loose), applies
    EXPECT_EQ(find_check(check_forwarding_path(state).checks, "rp_filter").verdict,
              CheckVerdict::kOk);
}

TEST(ForwardingPathReport, IPv6ForwardingIsCheckedOnlyWithIPv6Routes) {
    netlink::ForwardingState state = healthy_state();
    state.ipv6_forwarding = value("net.ipv6.conf.all.forwarding", "0");
    EXPECT_EQ(check_forwarding_path(state).checks.size(), 5u);
    state.ipv6 = true;
    const ForwardingPathReport report = check_forwarding_path(state);
    EXPECT_EQ(find_check(report.checks, "ipv6_forwarding").verdict, CheckVerdict::kFail);
    EXPECT_FALSE(report.ok());
}

TEST(ForwardingPathReport, WhatCannotBeReadWarns) {
    netlink::ForwardingState state = healthy_state();
    state.rp_filter_interface = {"net.ipv4.conf.wg0.rp_filter", std::nullopt,
                                 "open /proc/sys/net/ipv4/conf/wg0/rp_filter: No such file"};
    state.ipv4_forward.value = "yes";
    state.ruleset.reset();
    state.ruleset_error = "Operation not permitted";
    const ForwardingPathReport report = check_forwarding_path(state);
    EXPECT_EQ(find_check(report.checks, "rp_filter").verdict, CheckVerdict::kWarn);
    EXPECT_EQ(find_check(report.checks, "ip_forward").verdict, CheckVerdict::kWarn);
    const ForwardingCheck nft = find_check(report.checks, "nftables");
    EXPECT_EQ(nft.verdict, CheckVerdict::kWarn);
    EXPECT_TRUE(contains(nft.reason, "Operation not permitted"));
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.worst(), CheckVerdict::kWarn);
}

TEST(ForwardingPathReport, IptablesLegacyTablesWarn) {
    netlink::ForwardingState state = healthy_state();
    state.iptables_legacy.ipv4 = {"filter"};
    const ForwardingPathReport report = check_forwarding_path(state);
    const ForwardingCheck check = find_check(report.checks, "iptables_legacy");
    EXPECT_EQ(check.verdict, CheckVerdict::kWarn);
    EXPECT_TRUE(contains(check.reason, "iptables: filter")) << check.reason;
    EXPECT_TRUE(contains(check.action, "iptables-legacy -I FORWARD -i wg0 -o wg0 -j ACCEPT"));
}

TEST(ForwardingPathReport, JsonCarriesEveryCheck) {
    netlink::ForwardingState state = healthy_state();
    state.ipv4_forward.value = "0";
    const json document = check_forwarding_path(state).to_json();
    EXPECT_EQ(document["ok"], false);
    EXPECT_EQ(document["verdict"], "fail");
    ASSERT_EQ(document["checks"].size(), 5u);
    EXPECT_EQ(document["checks"][0]["check"], "ip_forward");
    EXPECT_EQ(document["checks"][0]["verdict"], "fail");
    EXPECT_TRUE(document["checks"][0]["reason"].is_string());
    EXPECT_TRUE(document["checks"][0]["action"].is_string());
    EXPECT_EQ(document["checks"][1]["action"], "");
}

}  // namespace
}  // namespace wgmesh::mesh
