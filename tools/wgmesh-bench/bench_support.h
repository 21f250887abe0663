// What every benchmark group needs: timing, running baseline tools quietly, and refusing
// to change kernel state in the host's own network namespace.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace wgmesh::bench {

double seconds_since(std::chrono::steady_clock::time_point start);
// Runs argv (from PATH, no shell) with stdin and stdout on /dev/null; returns its exit
// status (128+signal when killed).
int run_quiet(const std::vector<std::string>& argv);
// run_quiet, throwing when the exit status is not 0.
void run_or_throw(const std::vector<std::string>& argv);
// Throws unless this process runs in a network namespace other than PID 1's; `group` names
// the benchmark group for the message ("routes" -> "tools/bench routes").
void require_private_namespace(std::string_view group);

}  // namespace wgmesh::bench
