// Detection of iptables-legacy (x_tables) tables in the current network namespace. wgmesh
// does not manage them, but a DROP there still drops relay traffic, so the operator is
// warned.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace wgmesh::netlink {

struct IptablesLegacyTables {
    std::vector<std::string> ipv4;  // from ip_tables_names, e.g. "filter"
    std::vector<std::string> ipv6;  // from ip6_tables_names

    bool empty() const { return ipv4.empty() && ipv6.empty(); }
    // "iptables: filter, nat; ip6tables: filter"
    std::string to_string() const;
};

// Reads <proc_net>/ip_tables_names and ip6_tables_names. These list the legacy tables that
// exist in the namespace whose /proc/net is read; the kernel instantiates a legacy table in a
// namespace only once something (iptables-legacy) used it there. A missing file (x_tables not
// loaded) means no tables. Lines that are not table names are ignored. The default reads the
// calling thread's namespace, which matters after setns().
IptablesLegacyTables find_iptables_legacy_tables(
    const std::filesystem::path& proc_net = "/proc/thread-self/net");

}  // namespace wgmesh::netlink
