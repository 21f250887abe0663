#include "mesh/version.h"

namespace wgmesh::mesh {

// WGMESH_VERSION is defined for this file alone, so a version bump rebuilds one object.
std::string_view version() {
    return WGMESH_VERSION;
}

}  // namespace wgmesh::mesh
