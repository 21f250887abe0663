#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_cache(Args) {
    std::cerr << "wgmesh cache: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
