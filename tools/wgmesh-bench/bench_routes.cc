// The routes group: wgmesh's batched rtnetlink sync against `ip -batch` and against one
// `ip route replace` process per route (the Go daemon's way), on the same routes, in one
// run. Runs in the current namespace on a veth pair it creates, and refuses to run in the
// namespace of PID 1 (tools/bench gives it a private one).
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/route_table.h"
#include "tools/wgmesh-bench/bench_support.h"
#include "tools/wgmesh-bench/benchmarks.h"

extern char** environ;

namespace wgmesh::bench {

namespace {

constexpr const char* kInterface = "wgmb0";
constexpr const char* kPeerInterface = "wgmb0p";
constexpr const char* kProtocol = "150";

// Distinct /24 networks, each via one of 1000 on-link gateways in 172.31.0.0/16.
netlink::Route bench_route(std::size_t i, std::size_t gateway_shift = 0) {
    const auto destination =
        netlink::IpAddress::v4(static_cast<std::uint8_t>(10 + (i >> 16)),
                               static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 0);
    const std::size_t g = (i + gateway_shift) % 1000;
    const auto gateway = netlink::IpAddress::v4(172, 31, static_cast<std::uint8_t>(1 + g / 250),
                                                static_cast<std::uint8_t>(1 + g % 250));
    return {netlink::Prefix(destination, 24), gateway};
}

std::vector<std::string> ip_replace_args(const netlink::Route& route) {
    return {"ip",      "route",
            "replace", route.destination.to_string(),
            "via",     route.gateway.to_string(),
            "dev",     kInterface,
            "proto",   kProtocol};
}

class BenchLink {
  public:
    BenchLink() {
        netlink::delete_link(socket_, kInterface);
        netlink::create_veth_pair(socket_, kInterface, kPeerInterface);
        netlink::set_link_up(socket_, kInterface, true);
        netlink::set_link_up(socket_, kPeerInterface, true);
        netlink::add_address(socket_, netlink::link_index(socket_, kInterface),
                             *netlink::InterfaceAddress::parse("172.31.0.1/16"));
    }
    ~BenchLink() {
        try {
            netlink::delete_link(socket_, kInterface);
        } catch (...) {
        }
    }
    BenchLink(const BenchLink&) = delete;
    BenchLink& operator=(const BenchLink&) = delete;

  private:
    netlink::NetlinkSocket socket_{NETLINK_ROUTE};
};

void expect_owned(netlink::KernelRouteTable& table, std::size_t count, const char* after) {
    const std::size_t owned = table.dump_owned().size();
    if (owned != count) {
        throw std::runtime_error(std::string("after ") + after + ": " + std::to_string(owned) +
                                 " owned routes, expected " + std::to_string(count));
    }
}

void expect_clean(const netlink::RouteSyncReport& report, const char* what) {
    if (!report.failures.empty()) {
        throw std::runtime_error(std::string(what) + ": " +
                                 report.failures.front().route.to_string() + ": " +
                                 report.failures.front().message);
    }
}

}  // namespace

void bench_routes(const BenchOptions& options, BenchReport& report) {
    require_private_namespace("routes");
    const std::size_t count = options.quick ? 5000 : 100000;
    const std::size_t process_sample = options.quick ? 200 : 2000;
    const std::string n = std::to_string(count);
    BenchLink link;
    netlink::KernelRouteTable table(kInterface, netlink::kDefaultRouteTable,
                                    netlink::kDefaultRouteProtocol);
    std::vector<netlink::Route> routes;
    routes.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        routes.push_back(bench_route(i));
    }

    // Baseline 1: ip -batch with the same routes.
    const std::string batch_file = "/tmp/wgmesh-bench-routes-" + std::to_string(getpid());
    {
        std::ofstream out(batch_file);
        for (const auto& route : routes) {
            out << "route replace " << route.destination.to_string() << " via "
                << route.gateway.to_string() << " dev " << kInterface << " proto " << kProtocol
                << "\n";
        }
    }
    auto start = std::chrono::steady_clock::now();
    const int batch_status = run_quiet({"ip", "-batch", batch_file});
    const double ip_batch_seconds = seconds_since(start);
    std::remove(batch_file.c_str());
    if (batch_status != 0) {
        throw std::runtime_error("ip -batch failed");
    }
    expect_owned(table, count, "ip -batch");
    expect_clean(table.flush(), "flush after ip -batch");

    // Baseline 2: one ip process per route, on a sample.
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < process_sample; ++i) {
        run_or_throw(ip_replace_args(routes[i]));
    }
    const double per_process_seconds =
        seconds_since(start) * static_cast<double>(count) / static_cast<double>(process_sample);
    expect_clean(table.flush(), "flush after ip route replace");

    // wgmesh: full sync from empty.
    start = std::chrono::steady_clock::now();
    const auto full = table.sync(routes);
    const double full_seconds = seconds_since(start);
    expect_clean(full, "full sync");
    expect_owned(table, count, "full sync");

    // Baseline 3: ip dumping the same routes.
    start = std::chrono::steady_clock::now();
    run_or_throw({"ip", "route", "show", "proto", kProtocol});
    const double ip_show_seconds = seconds_since(start);

    // wgmesh: dump alone, then a no-change resync.
    start = std::chrono::steady_clock::now();
    const std::size_t dumped = table.dump_owned().size();
    const double dump_seconds = seconds_since(start);
    start = std::chrono::steady_clock::now();
    const auto unchanged = table.sync(routes);
    const double unchanged_seconds = seconds_since(start);
    expect_clean(unchanged, "no-change resync");
    if (table.last_sync_messages() != 0 || dumped != count) {
        throw std::runtime_error("no-change resync sent " +
                                 std::to_string(table.last_sync_messages()) + " changes");
    }

    // wgmesh: 1% churn (a third new, a third gone, a third with a new gateway).
    std::vector<netlink::Route> churned = routes;
    const std::size_t churn = count / 100;
    for (std::size_t i = 0; i < churn; ++i) {
        const std::size_t index = i * 100;
        if (i % 3 == 0) {
            churned[index] = bench_route(index, 7);
        } else if (i % 3 == 1) {
            churned[index] = bench_route(count + i);
        } else {
            churned[index] = bench_route(count + churn + i);
        }
    }
    start = std::chrono::steady_clock::now();
    const auto churn_report = table.sync(churned);
    const double churn_seconds = seconds_since(start);
    expect_clean(churn_report, "1% churn");

    start = std::chrono::steady_clock::now();
    const auto flushed = table.flush();
    const double flush_seconds = seconds_since(start);
    expect_clean(flushed, "flush");
    expect_owned(table, 0, "flush");

    const double items = static_cast<double>(count);
    const std::string full_job = "routes: full sync of " + n;
    report.add({full_job, "wgmesh (batched rtnetlink)", full_seconds, items, false, ""});
    report.add({full_job, "ip -batch (route replace)", ip_batch_seconds, items, true, ""});
    report.add({full_job, "ip route replace per route", per_process_seconds, items, true,
                "extrapolated from " + std::to_string(process_sample) + " processes"});
    const std::string resync_job = "routes: no-change resync of " + n;
    report.add({resync_job, "wgmesh sync (sends nothing)", unchanged_seconds, items, false, ""});
    report.add({resync_job, "wgmesh dump only", dump_seconds, items, false, ""});
    report.add({resync_job, "ip route show proto 150", ip_show_seconds, items, true, ""});
    const std::string churn_job = "routes: 1% churn of " + n;
    report.add({churn_job, "wgmesh sync", churn_seconds, items, false,
                std::to_string(churn_report.added) + " added/replaced, " +
                    std::to_string(churn_report.removed) + " removed"});
    report.add(
        {churn_job, "ip route show proto 150 (dump only)", ip_show_seconds, items, true, ""});
    report.add({"routes: flush of " + n, "wgmesh flush", flush_seconds, items, false, ""});
}

}  // namespace wgmesh::bench
