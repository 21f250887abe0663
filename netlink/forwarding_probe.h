// Reads what decides whether this node forwards relay traffic (mesh interface in, mesh
// interface out): the forwarding and reverse-path sysctls, the whole nftables ruleset and
// whether iptables-legacy tables exist. Only reads; mesh/forwarding_path.h decides.
//
// Threading: like NftForwarding, one instance owns one libnftables context, is used from one
// thread and reads the network namespace of the thread that constructed it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "netlink/iptables_legacy.h"
#include "netlink/nft_context.h"
#include "netlink/nft_listing.h"

namespace wgmesh::netlink {

// One /proc/sys value as read, or why it could not be read.
struct SysctlReading {
    std::string key;  // "net.ipv4.ip_forward", as an operator writes it
    std::optional<std::string> value;
    std::string error;  // set when value is not
};

struct ForwardingState {
    std::string interface_name;
    bool ipv6 = false;  // IPv6 routes are advertised: IPv6 forwarding is checked too

    SysctlReading ipv4_forward;               // net.ipv4.ip_forward
    SysctlReading ipv4_interface_forwarding;  // net.ipv4.conf.<IF>.forwarding
    SysctlReading ipv6_forwarding;            // net.ipv6.conf.all.forwarding (when ipv6)
    SysctlReading rp_filter_all;              // net.ipv4.conf.all.rp_filter
    SysctlReading rp_filter_interface;        // net.ipv4.conf.<IF>.rp_filter

    std::optional<NftListing> ruleset;  // nullopt: it could not be listed (ruleset_error)
    std::string ruleset_error;
    IptablesLegacyTables iptables_legacy;
};

struct ForwardingProbeOptions {
    std::filesystem::path proc_sys = "/proc/sys";
    std::filesystem::path proc_net = "/proc/thread-self/net";
};

// `{"nftables": [{"list": {"ruleset": null}}]}`
nlohmann::json list_ruleset_command();

class ForwardingProbe {
  public:
    // Throws std::invalid_argument for an unsafe interface name, std::runtime_error when
    // libnftables fails to start.
    explicit ForwardingProbe(std::string interface_name, ForwardingProbeOptions options = {});

    // Never throws for what it reads: a value that cannot be read carries its error.
    ForwardingState read(bool ipv6);

  private:
    SysctlReading read_sysctl_value(const std::string& key) const;

    std::string interface_name_;
    ForwardingProbeOptions options_;
    NftContext nft_;
};

}  // namespace wgmesh::netlink
