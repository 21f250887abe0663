// What NftForwarding asks nftables to do, as pure functions: names, the JSON command
// batches, and the decisions taken on a listing. Kept apart from the libnftables I/O so the
// exact commands are unit tested.
//
// Commands are libnftables JSON ({"nftables": [...]}), built with nlohmann::json, so the
// interface name is never spliced into nft syntax; it is still validated strictly because
// it names our table.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/nft_listing.h"

namespace wgmesh::netlink {

// Our own table, one per mesh interface: "inet wgmesh-<iface>", base chain "forward".
inline constexpr const char* kForwardingTableFamily = "inet";
inline constexpr const char* kForwardingChainName = "forward";
std::string forwarding_table_name(const std::string& interface_name);

// The comment that marks our rules, in our table and in foreign chains: "wgmesh:<iface>".
std::string forwarding_rule_comment(const std::string& interface_name);

// iifname "<iface>" oifname "<iface>" accept, as nft prints it back in JSON.
nlohmann::json relay_accept_expr(const std::string& interface_name);

// One transaction: create our table and base chain if missing (type filter, hook forward,
// priority filter, policy accept), flush the chain, add the relay accept. Applying it any
// number of times leaves exactly one rule.
nlohmann::json ensure_own_table_commands(const std::string& interface_name);

// One transaction that replaces our table wholesale; used when the plain ensure failed
// because our chain exists with another type, hook or priority.
nlohmann::json rebuild_own_table_commands(const std::string& interface_name);

// Deletes our table whether or not it exists ("add" then "delete" in one transaction:
// nft 1.0.6 has no "destroy").
nlohmann::json remove_own_table_commands(const std::string& interface_name);

// A chain owned by someone else into which we put (only) our tagged accept.
struct ForeignChain {
    std::string family;
    std::string table;
    std::string name;

    std::string to_string() const { return family + " " + table + " " + name; }
    bool operator==(const ForeignChain&) const = default;
};

// The iptables-nft FORWARD chains (Docker, firewalld's iptables backend): base chains on the
// forward hook named FORWARD in the "ip filter" and "ip6 filter" tables.
std::vector<ForeignChain> iptables_forward_chains(const NftListing& chains);

// Base chains on the forward hook that drop by policy and that we neither own nor patch.
// An accept in our table cannot override them, so the operator has to be told.
std::vector<NftChain> unmanaged_dropping_forward_chains(const NftListing& chains,
                                                        const std::string& interface_name);

// What to change in one foreign chain so that it holds our tagged accept exactly once.
// Our rule is recognised by its comment. A correct rule that is not first is left where it
// is (others, e.g. Docker's DOCKER-USER jump, may legitimately go above it); duplicates and
// rules with our comment but another expression are deleted.
struct ForeignChainPlan {
    std::vector<std::uint64_t> delete_handles;
    bool insert_at_top = false;

    bool empty() const { return delete_handles.empty() && !insert_at_top; }
};
ForeignChainPlan plan_foreign_chain_ensure(const NftListing& chain_listing,
                                           const ForeignChain& chain,
                                           const std::string& interface_name);
// Every rule with our comment in the chain, for removal.
ForeignChainPlan plan_foreign_chain_remove(const NftListing& chain_listing,
                                           const ForeignChain& chain,
                                           const std::string& interface_name);

// Appends the plan's deletions (by handle) and insertion to `commands`' "nftables" array.
void append_foreign_chain_commands(nlohmann::json& commands, const ForeignChain& chain,
                                   const ForeignChainPlan& plan, const std::string& interface_name);

// {"nftables": [{"list": {"chains": {}}}]} and the listing of one chain with its rules.
nlohmann::json list_chains_command();
nlohmann::json list_chain_command(const ForeignChain& chain);

}  // namespace wgmesh::netlink
