#include "tools/wgmesh-bench/report.h"

#include <algorithm>
#include <cstdio>

namespace wgmesh::bench {

namespace {

std::vector<const BenchRow*> rows_of(const std::vector<BenchRow>& rows, const std::string& job,
                                     bool baseline) {
    std::vector<const BenchRow*> out;
    for (const auto& row : rows) {
        if (row.job == job && row.baseline == baseline)
            out.push_back(&row);
    }
    return out;
}

std::vector<std::string> jobs_in_order(const std::vector<BenchRow>& rows) {
    std::vector<std::string> jobs;
    for (const auto& row : rows) {
        if (std::find(jobs.begin(), jobs.end(), row.job) == jobs.end())
            jobs.push_back(row.job);
    }
    return jobs;
}

}  // namespace

void BenchReport::print_table(std::ostream& out) const {
    char line[512];
    for (const auto& job : jobs_in_order(rows_)) {
        out << job << "\n";
        for (bool baseline : {false, true}) {
            for (const BenchRow* row : rows_of(rows_, job, baseline)) {
                const double rate = row->seconds > 0 ? row->items / row->seconds : 0;
                std::snprintf(line, sizeof(line), "  %-38s %10.4f s %12.0f /s%s",
                              row->method.c_str(), row->seconds, rate,
                              baseline ? "  (baseline)" : "");
                out << line;
                if (!baseline) {
                    for (const BenchRow* base : rows_of(rows_, job, true)) {
                        std::snprintf(line, sizeof(line), "  %.2fx vs %s",
                                      base->seconds / row->seconds, base->method.c_str());
                        out << line;
                    }
                }
                if (!row->note.empty())
                    out << "  [" << row->note << "]";
                out << "\n";
            }
        }
    }
}

nlohmann::json BenchReport::to_json() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : rows_) {
        nlohmann::json j = {{"job", row.job},
                            {"method", row.method},
                            {"seconds", row.seconds},
                            {"items", row.items},
                            {"baseline", row.baseline}};
        if (!row.note.empty())
            j["note"] = row.note;
        if (!row.baseline) {
            nlohmann::json ratios = nlohmann::json::object();
            for (const BenchRow* base : rows_of(rows_, row.job, true)) {
                ratios[base->method] = base->seconds / row.seconds;
            }
            j["speedup_vs"] = ratios;
        }
        out.push_back(j);
    }
    return out;
}

}  // namespace wgmesh::bench
