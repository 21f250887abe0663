#include <stdexcept>

#include "tools/wgmesh-bench/benchmarks.h"

namespace wgmesh::bench {

void bench_routes(const BenchOptions&, BenchReport&) {
    throw std::runtime_error("the routes benchmarks are not in this build yet");
}

}  // namespace wgmesh::bench
