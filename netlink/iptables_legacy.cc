#include "netlink/iptables_legacy.h"

#include <algorithm>
#include <fstream>

namespace wgmesh::netlink {

namespace {

// XT_TABLE_MAXNAMELEN - 1
constexpr std::size_t kMaxTableName = 31;

bool is_table_name(const std::string& line) {
    return !line.empty() && line.size() <= kMaxTableName &&
           std::all_of(line.begin(), line.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
           });
}

std::vector<std::string> read_names(const std::filesystem::path& file) {
    std::vector<std::string> names;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        if (is_table_name(line)) {
            names.push_back(line);
        }
    }
    return names;
}

std::string join(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) {
        text += (text.empty() ? "" : ", ") + name;
    }
    return text;
}

}  // namespace

std::string IptablesLegacyTables::to_string() const {
    std::string text;
    if (!ipv4.empty()) {
        text = "iptables: " + join(ipv4);
    }
    if (!ipv6.empty()) {
        text += (text.empty() ? "" : "; ") + std::string("ip6tables: ") + join(ipv6);
    }
    return text;
}

IptablesLegacyTables find_iptables_legacy_tables(const std::filesystem::path& proc_net) {
    return IptablesLegacyTables{read_names(proc_net / "ip_tables_names"),
                                read_names(proc_net / "ip6_tables_names")};
}

}  // namespace wgmesh::netlink
