// Lets relay traffic through a mesh node with libnftables (SPEC section 10): packets that
// enter and leave the mesh interface are accepted on the forward hook.
//
// What ensure() puts in place (docs/forwarding.md has the operator's view):
//  - net.ipv4.ip_forward = 1;
//  - our own table "inet wgmesh-<iface>" with base chain "forward" (filter hook, priority
//    filter, policy accept) holding exactly one rule
//      iifname "<iface>" oifname "<iface>" accept comment "wgmesh:<iface>"
//    rebuilt in one transaction (create if missing, flush, add);
//  - because an accept in our table cannot override a drop in another base chain, the same
//    tagged accept at the top of iptables-nft's "ip filter FORWARD" / "ip6 filter FORWARD"
//    when those exist (Docker sets policy drop there), exactly once.
// remove() deletes our table and the rules carrying our comment, nothing else.
//
// The table is NOT created with the "owner" flag: that flag deletes the table when our
// netlink socket closes, so a daemon restart (or crash) would cut relay traffic until the
// next start. Without it the rules outlive the daemon and the next ensure() re-applies them
// idempotently; `wgmesh cleanup` calls remove().
//
// Threading: one instance owns one libnftables context (see nft_context.h) and must be used
// from one thread; it acts in the network namespace of the thread that constructed it.
#pragma once

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "netlink/forwarding.h"
#include "netlink/nft_context.h"
#include "netlink/nft_forwarding_plan.h"

namespace wgmesh::netlink {

struct NftForwardingOptions {
    // Where net.ipv4.ip_forward is written.
    std::filesystem::path proc_sys = "/proc/sys";
    // The namespace's /proc/net, read to detect iptables-legacy tables.
    std::filesystem::path proc_net = "/proc/thread-self/net";
    // Receives each distinct warning once per instance (iptables-legacy tables present; a
    // forward chain we do not manage drops by policy). May be empty; warnings() keeps them.
    std::function<void(const std::string&)> warn;
};

class NftForwarding : public Forwarding {
  public:
    // Throws std::invalid_argument for a name that is not a safe interface name
    // (netlink/interface_name.h), std::runtime_error when libnftables fails to start.
    explicit NftForwarding(std::string interface_name, NftForwardingOptions options = {});

    // Idempotent. Throws std::runtime_error with nft's error text when our table cannot be
    // put in place, or (after our table is in place) when a foreign FORWARD chain cannot be
    // patched.
    ForwardingEnsured ensure() override;
    // Deletes our table and our tagged rules in foreign chains in one transaction. Leaves
    // ip_forward on: other services may rely on it, and we cannot know who turned it on.
    void remove() override;

    const std::string& interface_name() const { return interface_name_; }
    // Every warning emitted so far, in order, each once.
    const std::vector<std::string>& warnings() const { return warnings_; }

  private:
    NftListing list(const nlohmann::json& command);
    void ensure_own_table();
    // Returns the base-chain overview used for the foreign-chain steps and warnings.
    NftListing patch_foreign_chains();
    void warn_about(const NftListing& chains);
    void warn_once(const std::string& message);

    std::string interface_name_;
    NftForwardingOptions options_;
    NftContext nft_;
    std::vector<std::string> warnings_;
    std::set<std::string> warned_;
    bool ip_forward_set_ = false;  // an earlier ensure() had ip_forward on
};

}  // namespace wgmesh::netlink
