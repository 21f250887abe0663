#include <cstring>
#include <exception>
#include <iostream>
#include <string_view>

#include "tools/wgmesh-bench/benchmarks.h"

namespace {

constexpr std::string_view kUsage =
    "Usage: wgmesh-bench [--json] [--quick] GROUP...\n\n"
    "Measures wgmesh side by side with the usual tools, in the current network namespace\n"
    "(run it through tools/bench, which makes a private one). Groups:\n"
    "  routes   100k-route full sync, no-change resync and 1% churn vs ip -batch and\n"
    "           one 'ip route replace' per route\n"
    "  wg       1000-peer apply vs wg syncconf and one 'wg set' per peer\n"
    "  mesh     peer cache save/restore and collision scan of 1000 peers\n"
    "  daemon   reconcile cycle CPU and peak RSS with 1000 peers and 10k routes\n"
    "  repair   time to put back a deleted route, all routes, the mesh address, our nft\n"
    "           table and our FORWARD accept (kernel monitor vs polling), idle CPU, RSS\n"
    "  all      every group\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace wgmesh::bench;
    BenchOptions options;
    bool json = false;
    bool any = false;
    bool run_routes = false, run_wg = false, run_mesh = false, run_daemon = false,
         run_repair = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            return 0;
        } else if (arg == "--json") {
            json = true;
        } else if (arg == "--quick") {
            options.quick = true;
        } else if (arg == "routes" || arg == "wg" || arg == "mesh" || arg == "daemon" ||
                   arg == "repair" || arg == "all") {
            any = true;
            run_routes |= arg == "routes" || arg == "all";
            run_wg |= arg == "wg" || arg == "all";
            run_mesh |= arg == "mesh" || arg == "all";
            run_daemon |= arg == "daemon" || arg == "all";
            run_repair |= arg == "repair" || arg == "all";
        } else {
            std::cerr << "wgmesh-bench: unknown argument '" << arg << "'\n" << kUsage;
            return 1;
        }
    }
    if (!any) {
        std::cerr << kUsage;
        return 1;
    }
    BenchReport report;
    try {
        if (run_routes)
            bench_routes(options, report);
        if (run_wg)
            bench_wg(options, report);
        if (run_mesh)
            bench_mesh(options, report);
        if (run_daemon)
            bench_daemon(options, report);
        if (run_repair)
            bench_repair(options, report);
    } catch (const std::exception& e) {
        std::cerr << "wgmesh-bench: " << e.what() << "\n";
        return 1;
    }
    if (json) {
        std::cout << report.to_json().dump(2) << "\n";
    } else {
        report.print_table(std::cout);
    }
    return 0;
}
