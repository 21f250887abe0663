// The control socket a command that talks to the running daemon (status, peers, peer,
// metrics) uses: --socket PATH, or the default socket of --interface IF.
#pragma once

#include <filesystem>

#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {

// Throws UsageError for an empty --socket, a missing --interface or an invalid interface name.
std::filesystem::path control_socket_path(const Flags& flags);

}  // namespace wgmesh::cli
