// The version this build of wgmesh reports (`wgmesh --version`, `status --json`).
#pragma once

#include <string_view>

namespace wgmesh::mesh {

// The project version from CMakeLists.txt, e.g. "0.1.0".
std::string_view version();

}  // namespace wgmesh::mesh
