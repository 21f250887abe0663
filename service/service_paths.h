// Where the service lives on a system; the installer prefixes each with its --root.
#pragma once

#include <string_view>

namespace wgmesh::service {

inline constexpr std::string_view kUnitName = "wgmesh.service";
inline constexpr std::string_view kUnitFile = "/etc/systemd/system/wgmesh.service";
inline constexpr std::string_view kSecretDir = "/etc/wgmesh";
inline constexpr std::string_view kSecretEnvFile = "/etc/wgmesh/secret.env";
// The daemon reads the mesh secret from this variable, never from argv.
inline constexpr std::string_view kSecretVariable = "WGMESH_SECRET";
inline constexpr std::string_view kRouteProtocolsFile = "/etc/iproute2/rt_protos.d/wgmesh.conf";
// The service's user and group: DynamicUser= allocates them while it runs, or uses a system
// user of this name when a package created one (docs/systemd.md).
inline constexpr std::string_view kServiceUser = "wgmesh";
// ExecStart= when the binary's own location cannot be used (see cmd_service.cc).
inline constexpr std::string_view kDefaultBinary = "/usr/local/bin/wgmesh";

}  // namespace wgmesh::service
