// The flags of `wgmesh join` that describe the node (SPEC section 13), shared by the daemon
// and `wgmesh service`, which writes them into the unit. The secret's flags are not here:
// each command reads the secret its own way.
#pragma once

#include <vector>

#include "service/join_options.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {

std::vector<FlagSpec> join_flag_specs();

// --interface is required; a bad value is a UsageError naming its flag.
service::JoinOptions join_options_from_flags(const Flags& flags);

}  // namespace wgmesh::cli
