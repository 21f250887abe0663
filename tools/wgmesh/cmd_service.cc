#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_service(Args) {
    std::cerr << "wgmesh service: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
