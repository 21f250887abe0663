// The mesh secret as systemd's EnvironmentFile= reads it: one WGMESH_SECRET="..." line.
#pragma once

#include <string>
#include <string_view>

namespace wgmesh::service {

// The env-file text whose WGMESH_SECRET value systemd reads back as exactly `secret`: in
// double quotes, with '\', '"', '`' and '$' backslash-escaped (systemd.exec(5),
// "EnvironmentFile="). Throws std::invalid_argument for an empty secret, control characters
// (a newline would end the assignment), or text systemd refuses (invalid UTF-8, U+FEFF,
// Unicode noncharacters). The message never contains the secret.
std::string format_secret_env(std::string_view secret);

}  // namespace wgmesh::service
