// Where the commands that need the mesh secret (join, derive, service install) read it from:
// one reader and one parser (mesh::parse_secret) for every source, so a pasted secret gives
// the same mesh whichever way it arrives.
#pragma once

#include <functional>
#include <string>

#include "service/service_paths.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {

struct SecretSources {
    // Read standard input when nothing else gives a secret and it is not a terminal
    // (`wgmesh service install < secret`).
    bool standard_input = false;
};

using SecretWarning = std::function<void(const std::string&)>;

// The parsed secret from --secret-file FILE, --secret S (warned: visible in the process
// list), $WGMESH_SECRET, or standard input when `sources` allows it, in that order.
// $WGMESH_SECRET is wiped in every case (its bytes zeroed in place, then unset), so no child
// process inherits it and /proc/<pid>/environ does not show it. `warn` is told, without the
// secret, when the secret came inline or when trimming removed Unicode spaces. Throws
// UsageError naming the source when there is no secret, both flags are given, or the secret
// is too short; std::system_error when the file cannot be read.
std::string take_secret(const Flags& flags, const SecretSources& sources,
                        const SecretWarning& warn);

}  // namespace wgmesh::cli
