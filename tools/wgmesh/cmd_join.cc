#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_join(Args) {
    std::cerr << "wgmesh join: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
