// The parts of an `nft -j list ...` listing that wgmesh reads back: tables, chains and
// rules with their handles. A pure parser, so it is unit tested and fuzzed apart from the
// kernel.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wgmesh::netlink {

struct NftTable {
    std::string family;
    std::string name;
};

struct NftChain {
    std::string family;
    std::string table;
    std::string name;
    // Base chains only (a chain attached to a hook); empty for regular chains.
    std::string type;
    std::string hook;
    std::optional<std::int64_t> priority;
    std::string policy;

    bool is_base() const { return !hook.empty(); }
};

struct NftRule {
    std::string family;
    std::string table;
    std::string chain;
    std::uint64_t handle = 0;
    std::string comment;  // empty when the rule has none
    nlohmann::json expr = nlohmann::json::array();
};

// In listing order; for a chain listing, rules are in evaluation order.
struct NftListing {
    std::vector<NftTable> tables;
    std::vector<NftChain> chains;
    std::vector<NftRule> rules;
};

// Parses {"nftables": [...]} as printed by libnftables with JSON output. Objects of other
// kinds (metainfo, sets, maps, ...) are skipped. Throws std::invalid_argument when the text
// is not JSON, nests deeper than nft ever does, or a table/chain/rule lacks its identity.
NftListing parse_nft_listing(std::string_view json);

}  // namespace wgmesh::netlink
