// Running tools (ip, nft, wg, the wgmesh binary) from tests, without a shell.
#pragma once

#include <string>
#include <vector>

namespace wgmesh::test {

struct CommandResult {
    int exit_code = -1;  // 128+signal when killed by one
    std::string out;
    std::string err;
};

// Runs argv[0] from PATH with `input` on stdin; waits for it.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = "");
// Like run_command, but a non-zero exit fails with an exception carrying stderr.
std::string run_checked(const std::vector<std::string>& argv, const std::string& input = "");
bool program_exists(const std::string& name);

}  // namespace wgmesh::test
