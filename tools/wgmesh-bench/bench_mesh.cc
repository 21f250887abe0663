#include <stdexcept>

#include "tools/wgmesh-bench/benchmarks.h"

namespace wgmesh::bench {

void bench_mesh(const BenchOptions&, BenchReport&) {
    throw std::runtime_error("the mesh benchmarks are not in this build yet");
}

}  // namespace wgmesh::bench
