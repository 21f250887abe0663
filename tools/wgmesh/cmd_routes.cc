#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_routes(Args) {
    std::cerr << "wgmesh routes: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
