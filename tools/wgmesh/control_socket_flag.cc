#include "tools/wgmesh/control_socket_flag.h"

#include <stdexcept>

#include "mesh/control_server.h"
#include "service/join_options.h"

namespace wgmesh::cli {

std::filesystem::path control_socket_path(const Flags& flags) {
    if (const auto path = flags.value("socket")) {
        if (path->empty()) {
            throw UsageError("--socket must not be empty");
        }
        return *path;
    }
    const auto interface = flags.value("interface");
    if (!interface) {
        throw UsageError("--interface IF (or --socket PATH) is required");
    }
    try {
        service::require_interface_name(*interface);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    return mesh::default_control_socket(*interface);
}

}  // namespace wgmesh::cli
