// wgmesh routes show|sync|flush: the routes wgmesh owns on one interface, by hand.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "netlink/route_file.h"
#include "netlink/route_table.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {

namespace {

// A route file larger than this is not something an operator wrote; refuse it early.
constexpr std::uintmax_t kMaxRouteFileBytes = 64 * 1024 * 1024;

const FlagSpec kFlags[] = {
    {"interface", "IF", "interface whose routes are shown or changed (required)"},
    {"table", "N", "routing table (default 254, main)"},
    {"protocol", "N", "rtm_protocol that marks wgmesh's routes (default 150, 'wgmesh')"},
    {"from", "FILE", "sync: the wanted routes, one 'NETWORK GATEWAY' per line, '-' = stdin"},
    {"json", "", "machine-readable output"},
};

void print_usage(std::ostream& out) {
    out << "Usage: wgmesh routes show|sync|flush --interface IF [--table N] [--protocol N]\n"
           "                     [--from FILE] [--json]\n\n"
           "Routes belong to wgmesh when they carry its protocol number, go out through the\n"
           "interface and sit in the table given here. No other route is ever changed.\n\n"
           "  show    print wgmesh's routes on IF\n"
           "  sync    make wgmesh's routes on IF exactly those of --from FILE; lines are\n"
           "          'NETWORK GATEWAY' ('#' comments). One bad line: nothing is applied.\n"
           "  flush   remove wgmesh's routes on IF\n\n"
           "Flags:\n"
        << describe_flags(kFlags)
        << "\nExit status: 0 when every route was applied, 1 on any failure.\n";
}

nlohmann::json route_json(const netlink::Route& route) {
    return {{"destination", route.destination.to_string()}, {"gateway", route.gateway.to_string()}};
}

std::string read_route_file(const std::string& name) {
    if (name == "-") {
        std::ostringstream text;
        text << std::cin.rdbuf();
        return text.str();
    }
    std::error_code error;
    const auto size = std::filesystem::file_size(name, error);
    if (error) {
        throw std::runtime_error("cannot read route file " + name + ": " + error.message());
    }
    if (size > kMaxRouteFileBytes) {
        throw std::runtime_error("route file " + name + " is larger than 64 MiB");
    }
    std::ifstream in(name, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
        throw std::runtime_error("cannot read route file " + name);
    }
    return text.str();
}

int print_report(const netlink::RouteSyncReport& report, bool json) {
    if (json) {
        nlohmann::json failures = nlohmann::json::array();
        for (const auto& failure : report.failures) {
            auto entry = route_json(failure.route);
            entry["operation"] = failure.removing ? "remove" : "add";
            entry["errno"] = failure.error;
            entry["message"] = failure.message;
            failures.push_back(std::move(entry));
        }
        std::cout << nlohmann::json{{"added", report.added},
                                    {"removed", report.removed},
                                    {"failures", std::move(failures)}}
                         .dump(2)
                  << "\n";
    } else {
        std::cout << "added " << report.added << ", removed " << report.removed << ", failed "
                  << report.failures.size() << "\n";
        for (const auto& failure : report.failures) {
            std::cerr << "cannot " << (failure.removing ? "remove " : "add ")
                      << failure.route.to_string() << ": " << failure.message << "\n";
        }
    }
    return report.failures.empty() ? 0 : 1;
}

int show(netlink::KernelRouteTable& table, bool json) {
    auto routes = table.dump_owned();
    std::sort(routes.begin(), routes.end());
    if (json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& route : routes) {
            list.push_back(route_json(route));
        }
        std::cout << list.dump(2) << "\n";
    } else {
        for (const auto& route : routes) {
            std::cout << route.to_string() << "\n";
        }
    }
    return 0;
}

int sync(netlink::KernelRouteTable& table, const std::string& file_name, bool json) {
    const netlink::RouteFile file = netlink::parse_route_file(read_route_file(file_name));
    if (!file.errors.empty()) {
        for (const auto& error : file.errors) {
            std::cerr << file_name << ":" << error.line << ": " << error.message << "\n";
        }
        std::cerr << "nothing applied: " << file.errors.size() << " bad line"
                  << (file.errors.size() == 1 ? "" : "s") << " in " << file_name << "\n";
        return 1;
    }
    return print_report(table.sync(file.routes), json);
}

}  // namespace

int run_routes(Args args) {
    const Flags flags(args, kFlags);
    if (flags.help_requested()) {
        print_usage(std::cout);
        return 0;
    }
    if (flags.positional().size() != 1) {
        throw UsageError("expected exactly one of show, sync, flush");
    }
    const std::string& action = flags.positional().front();
    if (action != "show" && action != "sync" && action != "flush") {
        throw UsageError("unknown action '" + action + "' (show, sync or flush)");
    }
    const auto interface = flags.value("interface");
    if (!interface) {
        throw UsageError("--interface is required");
    }
    if (action == "sync" && !flags.has("from")) {
        throw UsageError("sync needs --from FILE");
    }
    if (action != "sync" && flags.has("from")) {
        throw UsageError("--from only goes with sync");
    }
    netlink::RouteOwner owner{*interface, netlink::kDefaultRouteTable,
                              netlink::kDefaultRouteProtocol};
    owner.table = static_cast<std::uint32_t>(
        flags.number("table", 1, 0xffffffffUL).value_or(netlink::kDefaultRouteTable));
    owner.protocol = static_cast<std::uint8_t>(
        flags.number("protocol", 1, 255).value_or(netlink::kDefaultRouteProtocol));
    try {
        netlink::validate_route_owner(owner);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    netlink::KernelRouteTable table(owner);
    const bool json = flags.has("json");
    if (action == "show") {
        return show(table, json);
    }
    if (action == "sync") {
        return sync(table, *flags.value("from"), json);
    }
    return print_report(table.flush(), json);
}

}  // namespace wgmesh::cli
