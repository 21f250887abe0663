#include <string>
#include <vector>

#include "tools/wgmesh/commands.h"

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    return wgmesh::cli::run_wgmesh(args);
}
