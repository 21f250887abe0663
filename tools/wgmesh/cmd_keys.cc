#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_genkey(Args) {
    std::cerr << "wgmesh genkey: not available in this build yet\n";
    return 1;
}

int run_pubkey(Args) {
    std::cerr << "wgmesh pubkey: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
