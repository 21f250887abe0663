// Side-by-side benchmark results: each row is one way of doing one job, and rows of the
// same job are compared to that job's baselines.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace wgmesh::bench {

struct BenchRow {
    std::string job;     // "routes: full sync of 100000"
    std::string method;  // "wgmesh", "ip -batch", ...
    double seconds = 0;  // wall time for `items` (extrapolated rows say so in `note`)
    double items = 0;    // routes, peers, ...
    bool baseline = false;
    std::string note;
};

class BenchReport {
  public:
    void add(BenchRow row) { rows_.push_back(std::move(row)); }
    // Rows grouped by job; non-baseline rows show their speed-up over each baseline.
    void print_table(std::ostream& out) const;
    nlohmann::json to_json() const;
    const std::vector<BenchRow>& rows() const { return rows_; }

  private:
    std::vector<BenchRow> rows_;
};

}  // namespace wgmesh::bench
