#include <stdexcept>

#include "tools/wgmesh-bench/benchmarks.h"

namespace wgmesh::bench {

void bench_daemon(const BenchOptions&, BenchReport&) {
    throw std::runtime_error("the daemon benchmarks are not in this build yet");
}

}  // namespace wgmesh::bench
