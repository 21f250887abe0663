// The real CommandExecutor: posix_spawn with an argv vector (no shell), stdin from
// /dev/null, stdout and stderr captured, a deadline after which the child's process group
// gets SIGTERM and, if it does not go, SIGKILL.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "service/command_executor.h"

namespace wgmesh::service {

class ProcessExecutor : public CommandExecutor {
  public:
    // Each captured stream keeps at most this many bytes; the rest is read and dropped.
    static constexpr std::size_t kMaxCapturedBytes = 1 << 20;
    // Time between SIGTERM and SIGKILL once the timeout has passed.
    static constexpr std::chrono::milliseconds kKillGrace{2000};

    // Children inherit our environment minus these variables (by default the mesh secret,
    // which must never reach another process).
    explicit ProcessExecutor(std::vector<std::string> removed_variables = {"WGMESH_SECRET"});

    // argv[0] without '/' is looked up in PATH. Returns exit_code -1 and a message in `err`
    // when the program cannot be started; never throws for the child's own failures.
    CommandOutcome run(const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout) override;

  private:
    std::vector<std::string> removed_variables_;
};

}  // namespace wgmesh::service
