#include "netlink/forwarding_probe.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "netlink/interface_name.h"
#include "netlink/sysctl.h"

namespace wgmesh::netlink {

namespace {

// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward", for fixed keys only: an interface name may
// contain '.', so the per-interface keys are built from parts.
std::string sysctl_path_of(std::string_view dotted) {
    std::string path(dotted);
    std::replace(path.begin(), path.end(), '.', '/');
    return path;
}

}  // namespace

nlohmann::json list_ruleset_command() {
    return {{"nftables", nlohmann::json::array({{{"list", {{"ruleset", nullptr}}}}})}};
}

ForwardingProbe::ForwardingProbe(std::string interface_name, ForwardingProbeOptions options)
    : interface_name_((require_valid_interface_name(interface_name), std::move(interface_name))),
      options_(std::move(options)),
      nft_(NftContext::Output::kJson) {}

SysctlReading ForwardingProbe::read_sysctl_value(const std::string& key) const {
    SysctlReading reading{key, std::nullopt, {}};
    try {
        reading.value = read_sysctl(key, options_.proc_sys);
    } catch (const std::exception& e) {
        reading.error = e.what();
    }
    return reading;
}

ForwardingState ForwardingProbe::read(bool ipv6) {
    ForwardingState state;
    state.interface_name = interface_name_;
    state.ipv6 = ipv6;
    const std::string interface_conf = "net/ipv4/conf/" + interface_name_ + "/";
    const auto read_key = [&](const std::string& shown, const std::string& path) {
        SysctlReading reading = read_sysctl_value(path);
        reading.key = shown;
        return reading;
    };
    state.ipv4_forward = read_key("net.ipv4.ip_forward", sysctl_path_of("net.ipv4.ip_forward"));
    state.ipv4_interface_forwarding =
        read_key("net.ipv4.conf." + interface_name_ + ".forwarding", interface_conf + "forwarding");
    if (ipv6) {
        state.ipv6_forwarding = read_key("net.ipv6.conf.all.forwarding",
                                         sysctl_path_of("net.ipv6.conf.all.forwarding"));
    }
    state.rp_filter_all =
        read_key("net.ipv4.conf.all.rp_filter", sysctl_path_of("net.ipv4.conf.all.rp_filter"));
    state.rp_filter_interface =
        read_key("net.ipv4.conf." + interface_name_ + ".rp_filter", interface_conf + "rp_filter");
    try {
        state.ruleset = parse_nft_listing(nft_.run(list_ruleset_command().dump()));
    } catch (const std::exception& e) {
        state.ruleset_error = e.what();
    }
    state.iptables_legacy = find_iptables_legacy_tables(options_.proc_net);
    return state;
}

}  // namespace wgmesh::netlink
