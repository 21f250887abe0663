#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_cleanup(Args) {
    std::cerr << "wgmesh cleanup: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
