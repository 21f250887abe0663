#include "mesh/interface_name.h"

#include <stdexcept>
#include <string>

namespace wgmesh::mesh {

bool is_valid_interface_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxInterfaceNameBytes || name == "." || name == "..") {
        return false;
    }
    for (const char c : name) {
        // Printable ASCII only; space (0x20) is excluded with the other whitespace.
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':') {
            return false;
        }
    }
    return true;
}

void require_valid_interface_name(std::string_view name) {
    if (!is_valid_interface_name(name)) {
        std::string shown;
        for (const char c : name.substr(0, 32)) {
            shown += (c > 0x20 && c < 0x7f) ? c : '?';
        }
        throw std::invalid_argument("invalid interface name '" + shown +
                                    "': 1-15 printable bytes without '/', ':' or whitespace");
    }
}

}  // namespace wgmesh::mesh
