// The benchmark groups of wgmesh-bench; each fills the report with its rows.
#pragma once

#include <span>
#include <string>

#include "tools/wgmesh-bench/report.h"

namespace wgmesh::bench {

struct BenchOptions {
    bool quick = false;  // smaller sizes, for a CI smoke run
};

void bench_routes(const BenchOptions& options, BenchReport& report);  // bench_routes.cc
void bench_wg(const BenchOptions& options, BenchReport& report);      // bench_wg.cc
void bench_mesh(const BenchOptions& options, BenchReport& report);    // bench_mesh.cc
void bench_daemon(const BenchOptions& options, BenchReport& report);  // bench_daemon.cc
void bench_repair(const BenchOptions& options, BenchReport& report);  // bench_repair.cc
// The daemon group's in-process reconcile cycle CPU (first, no-change, full resync), which the
// repair group reports too.
void bench_reconcile_cycle(const BenchOptions& options, BenchReport& report);  // bench_daemon.cc

}  // namespace wgmesh::bench
