#include <iostream>

#include "tools/wgmesh/commands.h"

namespace wgmesh::cli {

int run_status(Args) {
    std::cerr << "wgmesh status: not available in this build yet\n";
    return 1;
}

int run_peers(Args) {
    std::cerr << "wgmesh peers: not available in this build yet\n";
    return 1;
}

int run_peer(Args) {
    std::cerr << "wgmesh peer: not available in this build yet\n";
    return 1;
}

}  // namespace wgmesh::cli
