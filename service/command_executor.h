// The only way wgmesh runs external programs (systemctl): an argv vector, no shell, a
// timeout, captured output. Injected, so tests record and script the calls.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace wgmesh::service {

struct CommandOutcome {
    int exit_code = -1;  // 128+signal when killed by a signal; -1 when it could not start
    std::string out;
    std::string err;
    bool timed_out = false;
};

class CommandExecutor {
  public:
    virtual ~CommandExecutor() = default;
    virtual CommandOutcome run(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout) = 0;
};

}  // namespace wgmesh::service
