#include "netlink/route_file.h"

#include <unordered_map>

namespace wgmesh::netlink {

namespace {

constexpr std::string_view kSpace = " \t\r";

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t position = 0;
    while ((position = line.find_first_not_of(kSpace, position)) != std::string_view::npos) {
        const std::size_t end = line.find_first_of(kSpace, position);
        fields.push_back(line.substr(position, end - position));
        if (end == std::string_view::npos) {
            break;
        }
        position = end;
    }
    return fields;
}

// Quoted and cut so that hostile input cannot flood or garble an error message.
std::string quote(std::string_view text) {
    constexpr std::size_t kMaxShown = 64;
    std::string shown;
    for (const char c : text.substr(0, kMaxShown)) {
        shown += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return "'" + shown + (text.size() > kMaxShown ? "...'" : "'");
}

}  // namespace

RouteFile parse_route_file(std::string_view text) {
    RouteFile file;
    std::unordered_map<Prefix, std::pair<IpAddress, std::size_t>> seen;
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        const std::size_t newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
        line = line.substr(0, line.find('#'));
        const auto fields = split_fields(line);
        if (fields.empty()) {
            continue;
        }
        const auto fail = [&](std::string message) {
            file.errors.push_back({number, std::move(message)});
        };
        if (fields.size() != 2) {
            fail("expected 'NETWORK GATEWAY', found " + std::to_string(fields.size()) + " fields");
            continue;
        }
        const auto network = Prefix::parse(fields[0]);
        if (!network) {
            fail("invalid network " + quote(fields[0]));
            continue;
        }
        const auto gateway = IpAddress::parse(fields[1]);
        if (!gateway) {
            fail("invalid gateway " + quote(fields[1]));
            continue;
        }
        if (gateway->family() != network->family()) {
            fail("gateway " + gateway->to_string() + " is not of the family of " +
                 network->to_string());
            continue;
        }
        if (gateway->is_unspecified()) {
            fail("gateway " + gateway->to_string() + " is unspecified");
            continue;
        }
        const auto [it, inserted] = seen.try_emplace(*network, *gateway, number);
        if (!inserted) {
            if (it->second.first != *gateway) {
                fail("network " + network->to_string() + " already has gateway " +
                     it->second.first.to_string() + " on line " +
                     std::to_string(it->second.second));
            }
            continue;
        }
        file.routes.push_back(Route{*network, *gateway});
    }
    return file;
}

}  // namespace wgmesh::netlink
