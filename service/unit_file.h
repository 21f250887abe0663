// The hardened systemd unit that runs `wgmesh join`: generated from the daemon's own options,
// every value validated and escaped, the secret never in it (it comes from EnvironmentFile=).
#pragma once

#include <string>
#include <string_view>

#include "service/join_options.h"

namespace wgmesh::service {

// Unit text for `binary_path join <options>`. Validates the options and the binary path,
// and refuses paths the sandbox would hide from the service (ProtectHome=, PrivateTmp=).
// Throws std::invalid_argument naming the flag.
std::string generate_unit(const JoinOptions& options, std::string_view binary_path);

// The template unit wgmesh@.service the Debian package ships: the instance is the interface,
// /etc/wgmesh/<interface>.env holds WGMESH_SECRET and optional WGMESH_ARGS (more join flags),
// the state is in /var/lib/wgmesh, and the sandbox is generate_unit()'s. Throws
// std::invalid_argument for a binary path the unit cannot run.
std::string generate_template_unit(std::string_view binary_path);

// `%` doubled, so that systemd does not expand specifiers (systemd.unit(5) "Specifiers").
std::string escape_specifiers(std::string_view text);

// One word of an ExecStart= line, read back by systemd as exactly `argument`: specifiers
// and `$` doubled, backslashes and double quotes escaped, control bytes as \xNN, and
// double-quoted when it is empty or contains whitespace, quotes or ';'.
std::string escape_exec_argument(std::string_view argument);

}  // namespace wgmesh::service
