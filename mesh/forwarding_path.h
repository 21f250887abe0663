// Whether this node forwards relay traffic (in on the mesh interface, out on it again), and
// if not, which setting or which firewall chain stops it: the forwarding-path check that
// `status`, `status --json` and wgmesh_forwarding_path_ok report (docs/metrics.md). Pure: it
// decides from what netlink::ForwardingProbe read, so every rule is unit tested.
//
// The nftables part is decided from the ruleset, not guessed: every base chain on the forward
// hook (families ip, ip6, inet; lower priority first) is walked rule by rule, following
// jumps and gotos, for relay packets (iifname = oifname = the mesh interface; TCP, UDP and
// ICMP; the first packet of a connection and an established one; IPv4, and IPv6 when IPv6
// routes are advertised). A match on something a relay packet does not fix (a port, an
// address, a mark, a rate limit, an xtables match) cannot be decided, so a drop that depends
// on one is "may drop" (warn), never a fail. Relay traffic is assumed not to be NATed by this
// node (`ct status dnat` does not match it). A packet passes only when every chain accepts.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/forwarding_probe.h"
#include "netlink/nft_listing.h"

namespace wgmesh::mesh {

enum class CheckVerdict { kOk, kWarn, kFail };
// "ok", "warn", "fail"
std::string_view check_verdict_name(CheckVerdict verdict);

struct ForwardingCheck {
    // "ip_forward", "ipv6_forwarding", "rp_filter", "iptables_legacy", "nftables", or
    // "nftables <family> <table> <chain>" for one base chain on the forward hook.
    std::string name;
    CheckVerdict verdict = CheckVerdict::kOk;
    std::string reason;  // one line
    std::string action;  // what to do; empty when the check is ok

    bool operator==(const ForwardingCheck&) const = default;
};

struct ForwardingPathReport {
    std::vector<ForwardingCheck> checks;

    CheckVerdict worst() const;
    // What wgmesh_forwarding_path_ok says: no check fails (warnings do not count).
    bool ok() const { return worst() != CheckVerdict::kFail; }
    // {"ok": bool, "verdict": "ok|warn|fail", "checks": [{"check", "verdict", "reason",
    // "action"}]}: the object `status --json` carries as "forwarding_path".
    nlohmann::json to_json() const;
};

// Every check, in a fixed order: sysctls, then each forward base chain, then iptables-legacy.
ForwardingPathReport check_forwarding_path(const netlink::ForwardingState& state);

// The nftables part alone: one check per base chain on the forward hook that applies to the
// checked families, in evaluation order; a single "nftables" check when there is none.
std::vector<ForwardingCheck> check_forward_chains(const netlink::NftListing& ruleset,
                                                  const std::string& interface_name, bool ipv6);

}  // namespace wgmesh::mesh
