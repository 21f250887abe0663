#include "tests/support/recording_executor.h"

namespace wgmesh::test {

void RecordingExecutor::script(std::vector<std::string> argv, service::CommandOutcome outcome) {
    scripted_[std::move(argv)].push_back(std::move(outcome));
}

service::CommandOutcome RecordingExecutor::run(const std::vector<std::string>& argv,
                                               std::chrono::milliseconds timeout) {
    calls_.push_back(argv);
    timeouts_.push_back(timeout);
    auto it = scripted_.find(argv);
    if (it == scripted_.end() || it->second.empty()) {
        return default_;
    }
    service::CommandOutcome next = it->second.front();
    if (it->second.size() > 1) {
        it->second.pop_front();
    }
    return next;
}

void RecordingExecutor::clear_calls() {
    calls_.clear();
    timeouts_.clear();
}

service::CommandOutcome outcome(int exit_code, std::string out, std::string err) {
    return service::CommandOutcome{exit_code, std::move(out), std::move(err), false};
}

}  // namespace wgmesh::test
