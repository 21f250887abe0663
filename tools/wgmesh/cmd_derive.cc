#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_derive(Args) {
    std::cerr << "wgmesh derive: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
