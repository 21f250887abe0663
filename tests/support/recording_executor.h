// A CommandExecutor for tests: records every argv it is asked to run and answers with
// scripted outcomes instead of starting anything.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "service/command_executor.h"

namespace wgmesh::test {

class RecordingExecutor : public service::CommandExecutor {
  public:
    // Calls with exactly this argv get the scripted outcomes in order; the last one is
    // repeated once the others are used up.
    void script(std::vector<std::string> argv, service::CommandOutcome outcome);
    // The answer for calls nothing was scripted for (default: exit 0, no output).
    void set_default(service::CommandOutcome outcome) { default_ = std::move(outcome); }

    service::CommandOutcome run(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout) override;

    const std::vector<std::vector<std::string>>& calls() const { return calls_; }
    const std::vector<std::chrono::milliseconds>& timeouts() const { return timeouts_; }
    void clear_calls();

  private:
    std::map<std::vector<std::string>, std::deque<service::CommandOutcome>> scripted_;
    service::CommandOutcome default_{0, "", "", false};
    std::vector<std::vector<std::string>> calls_;
    std::vector<std::chrono::milliseconds> timeouts_;
};

// An outcome with this exit code and output, for scripting.
service::CommandOutcome outcome(int exit_code, std::string out = "", std::string err = "");

}  // namespace wgmesh::test
