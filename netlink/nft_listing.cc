#include "netlink/nft_listing.h"

#include <stdexcept>

namespace wgmesh::netlink {

namespace {

// nft's deepest listings (nested expressions in rules) stay far below this; the limit
// keeps hostile input from exhausting the stack when the document is destroyed.
constexpr int kMaxDepth = 64;

nlohmann::json parse_bounded(std::string_view text) {
    auto limit_depth = [](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if ((event == nlohmann::json::parse_event_t::object_start ||
             event == nlohmann::json::parse_event_t::array_start) &&
            depth >= kMaxDepth) {
            throw std::invalid_argument("nft listing: nested deeper than " +
                                        std::to_string(kMaxDepth) + " levels");
        }
        return true;
    };
    try {
        return nlohmann::json::parse(text.begin(), text.end(), limit_depth);
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("nft listing: not JSON: ") + e.what());
    }
}

std::string required_string(const nlohmann::json& object, const char* key, const char* kind) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        throw std::invalid_argument(std::string("nft listing: ") + kind + " without a \"" + key +
                                    "\" string");
    }
    return it->get<std::string>();
}

std::string optional_string(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

NftTable parse_table(const nlohmann::json& object) {
    return NftTable{required_string(object, "family", "table"),
                    required_string(object, "name", "table")};
}

NftChain parse_chain(const nlohmann::json& object) {
    NftChain chain;
    chain.family = required_string(object, "family", "chain");
    chain.table = required_string(object, "table", "chain");
    chain.name = required_string(object, "name", "chain");
    chain.type = optional_string(object, "type");
    chain.hook = optional_string(object, "hook");
    chain.policy = optional_string(object, "policy");
    if (const auto it = object.find("prio"); it != object.end() && it->is_number_integer()) {
        chain.priority = it->get<std::int64_t>();
    }
    return chain;
}

NftRule parse_rule(const nlohmann::json& object) {
    NftRule rule;
    rule.family = required_string(object, "family", "rule");
    rule.table = required_string(object, "table", "rule");
    rule.chain = required_string(object, "chain", "rule");
    const auto handle = object.find("handle");
    if (handle == object.end() || !handle->is_number_unsigned()) {
        throw std::invalid_argument("nft listing: rule in chain " + rule.chain +
                                    " without a numeric handle");
    }
    rule.handle = handle->get<std::uint64_t>();
    rule.comment = optional_string(object, "comment");
    if (const auto expr = object.find("expr"); expr != object.end()) {
        if (!expr->is_array()) {
            throw std::invalid_argument("nft listing: rule " + std::to_string(rule.handle) +
                                        " has a non-array \"expr\"");
        }
        rule.expr = *expr;
    }
    return rule;
}

}  // namespace

NftListing parse_nft_listing(std::string_view json) {
    const nlohmann::json document = parse_bounded(json);
    if (!document.is_object()) {
        throw std::invalid_argument("nft listing: top level is not an object");
    }
    const auto items = document.find("nftables");
    if (items == document.end() || !items->is_array()) {
        throw std::invalid_argument("nft listing: no \"nftables\" array");
    }
    NftListing listing;
    for (const nlohmann::json& item : *items) {
        if (!item.is_object() || item.size() != 1) {
            throw std::invalid_argument("nft listing: an entry is not a one-key object");
        }
        const std::string& kind = item.begin().key();
        const nlohmann::json& object = item.begin().value();
        if (!object.is_object()) {
            continue;  // not a ruleset object; kinds we do not read are skipped too
        }
        if (kind == "table") {
            listing.tables.push_back(parse_table(object));
        } else if (kind == "chain") {
            listing.chains.push_back(parse_chain(object));
        } else if (kind == "rule") {
            listing.rules.push_back(parse_rule(object));
        }
    }
    return listing;
}

}  // namespace wgmesh::netlink
