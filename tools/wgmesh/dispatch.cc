#include <cstdio>
#include <exception>
#include <iostream>
#include <string_view>

#include "mesh/version.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {

namespace {

struct Command {
    std::string_view name;
    int (*run)(Args);
    std::string_view summary;
};

constexpr Command kCommands[] = {
    {"join", run_join, "run the mesh daemon for one interface"},
    {"derive", run_derive, "print the keys and mesh addresses derived from a secret"},
    {"genkey", run_genkey, "print a new private key (like wg genkey)"},
    {"pubkey", run_pubkey, "read a private key on stdin, print its public key"},
    {"status", run_status, "show the running daemon's status"},
    {"peers", run_peers, "list the running daemon's peers"},
    {"peer", run_peer, "add or remove a peer in the running daemon"},
    {"metrics", run_metrics, "print the running daemon's metrics (Prometheus text)"},
    {"cache", run_cache, "show the peer cache file"},
    {"routes", run_routes, "show, sync or flush the routes wgmesh owns"},
    {"cleanup", run_cleanup, "remove wgmesh's routes, rules, addresses and interface"},
    {"service", run_service, "generate, install, uninstall or query the systemd unit"},
};

void print_usage(std::FILE* out) {
    std::fputs(
        "Usage: wgmesh COMMAND [FLAGS]\n"
        "       wgmesh --version\n\n"
        "Keeps one WireGuard mesh node's peers, addresses, routes and forwarding rules\n"
        "right, talking to the kernel through netlink and nftables.\n\nCommands:\n",
        out);
    for (const auto& command : kCommands) {
        std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(command.name.size()),
                     command.name.data(), static_cast<int>(command.summary.size()),
                     command.summary.data());
    }
    std::fputs("\nRun 'wgmesh COMMAND --help' for the flags of a command.\n", out);
}

}  // namespace

int run_wgmesh(Args args) {
    if (args.empty()) {
        print_usage(stderr);
        return 1;
    }
    const std::string& name = args.front();
    if (name == "--help" || name == "-h" || name == "help") {
        print_usage(stdout);
        return 0;
    }
    if (name == "--version") {
        std::cout << "wgmesh " << mesh::version() << "\n";
        return 0;
    }
    for (const auto& command : kCommands) {
        if (command.name != name) {
            continue;
        }
        try {
            return command.run(args.subspan(1));
        } catch (const UsageError& e) {
            std::cerr << "wgmesh " << name << ": " << e.what() << "\n"
                      << "Try 'wgmesh " << name << " --help'.\n";
            return 1;
        } catch (const std::exception& e) {
            std::cerr << "wgmesh " << name << ": " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "wgmesh: unknown command '" << name << "'\n";
    print_usage(stderr);
    return 1;
}

}  // namespace wgmesh::cli
