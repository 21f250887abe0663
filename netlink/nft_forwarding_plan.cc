#include "netlink/nft_forwarding_plan.h"

#include <algorithm>
#include <stdexcept>

namespace wgmesh::netlink {

namespace {

using nlohmann::json;

constexpr const char* kIptablesForwardTable = "filter";
constexpr const char* kIptablesForwardChain = "FORWARD";
constexpr const char* kForwardHook = "forward";

json interface_match(const char* key, const std::string& interface_name) {
    return {
        {"match", {{"op", "=="}, {"left", {{"meta", {{"key", key}}}}}, {"right", interface_name}}}};
}

json own_table(const std::string& interface_name) {
    return {{"family", kForwardingTableFamily}, {"name", forwarding_table_name(interface_name)}};
}

json own_chain(const std::string& interface_name) {
    return {{"family", kForwardingTableFamily},
            {"table", forwarding_table_name(interface_name)},
            {"name", kForwardingChainName}};
}

json own_base_chain(const std::string& interface_name) {
    json chain = own_chain(interface_name);
    chain["type"] = "filter";
    chain["hook"] = kForwardHook;
    chain["prio"] = 0;  // "filter" priority
    chain["policy"] = "accept";
    return chain;
}

json relay_rule(const json& location, const std::string& interface_name) {
    json rule = location;
    rule["comment"] = forwarding_rule_comment(interface_name);
    rule["expr"] = relay_accept_expr(interface_name);
    return rule;
}

json own_rule(const std::string& interface_name) {
    json location = {{"family", kForwardingTableFamily},
                     {"table", forwarding_table_name(interface_name)},
                     {"chain", kForwardingChainName}};
    return relay_rule(location, interface_name);
}

json batch(json commands) {
    return {{"nftables", std::move(commands)}};
}

bool in_chain(const NftRule& rule, const ForeignChain& chain) {
    return rule.family == chain.family && rule.table == chain.table && rule.chain == chain.name;
}

bool is_iptables_forward_chain(const NftChain& chain) {
    return (chain.family == "ip" || chain.family == "ip6") &&
           chain.table == kIptablesForwardTable && chain.name == kIptablesForwardChain &&
           chain.hook == kForwardHook;
}

}  // namespace

std::string forwarding_table_name(const std::string& interface_name) {
    return "wgmesh-" + interface_name;
}

std::string forwarding_rule_comment(const std::string& interface_name) {
    return "wgmesh:" + interface_name;
}

json relay_accept_expr(const std::string& interface_name) {
    return json::array({interface_match("iifname", interface_name),
                        interface_match("oifname", interface_name),
                        {{"accept", nullptr}}});
}

json ensure_own_table_commands(const std::string& interface_name) {
    return batch({
        {{"add", {{"table", own_table(interface_name)}}}},
        {{"add", {{"chain", own_base_chain(interface_name)}}}},
        {{"flush", {{"chain", own_chain(interface_name)}}}},
        {{"add", {{"rule", own_rule(interface_name)}}}},
    });
}

json rebuild_own_table_commands(const std::string& interface_name) {
    return batch({
        {{"add", {{"table", own_table(interface_name)}}}},
        {{"delete", {{"table", own_table(interface_name)}}}},
        {{"add", {{"table", own_table(interface_name)}}}},
        {{"add", {{"chain", own_base_chain(interface_name)}}}},
        {{"add", {{"rule", own_rule(interface_name)}}}},
    });
}

json remove_own_table_commands(const std::string& interface_name) {
    return batch({
        {{"add", {{"table", own_table(interface_name)}}}},
        {{"delete", {{"table", own_table(interface_name)}}}},
    });
}

std::vector<ForeignChain> iptables_forward_chains(const NftListing& chains) {
    std::vector<ForeignChain> found;
    for (const NftChain& chain : chains.chains) {
        if (is_iptables_forward_chain(chain)) {
            found.push_back({chain.family, chain.table, chain.name});
        }
    }
    return found;
}

std::vector<NftChain> unmanaged_dropping_forward_chains(const NftListing& chains,
                                                        const std::string& interface_name) {
    std::vector<NftChain> found;
    for (const NftChain& chain : chains.chains) {
        const bool routed_family =
            chain.family == "ip" || chain.family == "ip6" || chain.family == "inet";
        const bool ours = chain.family == kForwardingTableFamily &&
                          chain.table == forwarding_table_name(interface_name);
        if (routed_family && chain.hook == kForwardHook && chain.policy == "drop" && !ours &&
            !is_iptables_forward_chain(chain)) {
            found.push_back(chain);
        }
    }
    return found;
}

ForeignChainPlan plan_foreign_chain_ensure(const NftListing& chain_listing,
                                           const ForeignChain& chain,
                                           const std::string& interface_name) {
    const std::string comment = forwarding_rule_comment(interface_name);
    const json expected = relay_accept_expr(interface_name);
    ForeignChainPlan plan;
    bool kept = false;
    for (const NftRule& rule : chain_listing.rules) {
        if (!in_chain(rule, chain) || rule.comment != comment) {
            continue;
        }
        if (!kept && rule.expr == expected) {
            kept = true;
        } else {
            plan.delete_handles.push_back(rule.handle);
        }
    }
    plan.insert_at_top = !kept;
    return plan;
}

ForeignChainPlan plan_foreign_chain_remove(const NftListing& chain_listing,
                                           const ForeignChain& chain,
                                           const std::string& interface_name) {
    const std::string comment = forwarding_rule_comment(interface_name);
    ForeignChainPlan plan;
    for (const NftRule& rule : chain_listing.rules) {
        if (in_chain(rule, chain) && rule.comment == comment) {
            plan.delete_handles.push_back(rule.handle);
        }
    }
    return plan;
}

void append_foreign_chain_commands(json& commands, const ForeignChain& chain,
                                   const ForeignChainPlan& plan,
                                   const std::string& interface_name) {
    json& list = commands["nftables"];
    if (!list.is_array()) {
        list = json::array();
    }
    const json location = {{"family", chain.family}, {"table", chain.table}, {"chain", chain.name}};
    for (const std::uint64_t handle : plan.delete_handles) {
        json rule = location;
        rule["handle"] = handle;
        list.push_back({{"delete", {{"rule", rule}}}});
    }
    if (plan.insert_at_top) {
        // "insert" without a position puts the rule first in the chain.
        list.push_back({{"insert", {{"rule", relay_rule(location, interface_name)}}}});
    }
}

json list_chains_command() {
    return batch({{{"list", {{"chains", json::object()}}}}});
}

json list_chain_command(const ForeignChain& chain) {
    return batch(
        {{{"list",
           {{"chain",
             {{"family", chain.family}, {"table", chain.table}, {"name", chain.name}}}}}}});
}

}  // namespace wgmesh::netlink
