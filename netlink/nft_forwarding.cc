#include "netlink/nft_forwarding.h"

#include <stdexcept>
#include <utility>

#include "netlink/interface_name.h"
#include "netlink/iptables_legacy.h"
#include "netlink/sysctl.h"

namespace wgmesh::netlink {

NftForwarding::NftForwarding(std::string interface_name, NftForwardingOptions options)
    : interface_name_((require_valid_interface_name(interface_name), std::move(interface_name))),
      options_(std::move(options)),
      nft_(NftContext::Output::kJson) {}

ForwardingEnsured NftForwarding::ensure() {
    ForwardingEnsured ensured;
    ensured.ip_forward_restored = ensure_ipv4_forwarding(options_.proc_sys) && ip_forward_set_;
    ip_forward_set_ = true;
    ensure_own_table();
    const NftListing chains = patch_foreign_chains();
    warn_about(chains);
    return ensured;
}

void NftForwarding::remove() {
    nlohmann::json commands = remove_own_table_commands(interface_name_);
    const NftListing chains = list(list_chains_command());
    for (const ForeignChain& chain : iptables_forward_chains(chains)) {
        const ForeignChainPlan plan =
            plan_foreign_chain_remove(list(list_chain_command(chain)), chain, interface_name_);
        append_foreign_chain_commands(commands, chain, plan, interface_name_);
    }
    try {
        nft_.run(commands.dump());
    } catch (const std::runtime_error& e) {
        throw std::runtime_error("removing forwarding rules for " + interface_name_ + ": " +
                                 e.what());
    }
}

NftListing NftForwarding::list(const nlohmann::json& command) {
    return parse_nft_listing(nft_.run(command.dump()));
}

void NftForwarding::ensure_own_table() {
    const std::string table =
        std::string(kForwardingTableFamily) + " " + forwarding_table_name(interface_name_);
    try {
        nft_.run(ensure_own_table_commands(interface_name_).dump());
        return;
    } catch (const std::runtime_error&) {
        // Most likely our chain exists with another type, hook or priority (nft refuses to
        // change those in place): replace the whole table, still in one transaction.
    }
    try {
        nft_.run(rebuild_own_table_commands(interface_name_).dump());
    } catch (const std::runtime_error& e) {
        throw std::runtime_error("ensuring nftables table " + table + ": " + e.what());
    }
}

NftListing NftForwarding::patch_foreign_chains() {
    const NftListing chains = list(list_chains_command());
    nlohmann::json commands = {{"nftables", nlohmann::json::array()}};
    std::string patched;
    for (const ForeignChain& chain : iptables_forward_chains(chains)) {
        const ForeignChainPlan plan =
            plan_foreign_chain_ensure(list(list_chain_command(chain)), chain, interface_name_);
        if (!plan.empty()) {
            append_foreign_chain_commands(commands, chain, plan, interface_name_);
            patched += (patched.empty() ? "" : ", ") + chain.to_string();
        }
    }
    if (!patched.empty()) {
        try {
            nft_.run(commands.dump());
        } catch (const std::runtime_error& e) {
            throw std::runtime_error("inserting the relay accept for " + interface_name_ +
                                     " into " + patched + ": " + e.what());
        }
    }
    return chains;
}

void NftForwarding::warn_about(const NftListing& chains) {
    const IptablesLegacyTables legacy = find_iptables_legacy_tables(options_.proc_net);
    if (!legacy.empty()) {
        warn_once("iptables-legacy tables exist (" + legacy.to_string() +
                  "); wgmesh does not manage them, and a DROP there still drops relay "
                  "traffic on " +
                  interface_name_);
    }
    for (const NftChain& chain : unmanaged_dropping_forward_chains(chains, interface_name_)) {
        warn_once("nftables chain " + chain.family + " " + chain.table + " " + chain.name +
                  " drops forwarded packets by policy and is not managed by wgmesh; relay "
                  "traffic on " +
                  interface_name_ + " passes only if that ruleset accepts it");
    }
}

void NftForwarding::warn_once(const std::string& message) {
    if (!warned_.insert(message).second) {
        return;
    }
    warnings_.push_back(message);
    if (options_.warn) {
        options_.warn(message);
    }
}

}  // namespace wgmesh::netlink
