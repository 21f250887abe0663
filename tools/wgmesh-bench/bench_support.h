// What every benchmark group needs: timing, running baseline tools quietly, and refusing
// to change kernel state in the host's own network namespace.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "wg/key.h"

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

// A fixed, valid private key per index: the same bench peers in every run.
wg::Key bench_private_key(std::size_t i);
// The wgmesh binary next to this one (both are built into the same directory), or
// $WGMESH_BINARY.
std::filesystem::path wgmesh_binary();
// Starts `wgmesh join args...` with `secret` in WGMESH_SECRET, stdin on /dev/null and
// stdout/stderr appended to `log`; returns its pid. Throws when it cannot be started.
pid_t spawn_join(const std::vector<std::string>& args, const std::string& secret,
                 const std::filesystem::path& log);
// "VmHWM:   12345 kB" of a process, in KiB; 0 when it is gone.
long peak_rss_kib(pid_t pid);
// utime + stime of a process from /proc/<pid>/stat, in seconds; its threads included, its
// children not.
double process_cpu_seconds(pid_t pid);
// The process ids whose command line contains both `name` and `argument`.
std::vector<pid_t> pids_named(const std::string& name, const std::string& argument);

}  // namespace wgmesh::bench
