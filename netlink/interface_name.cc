#include "netlink/interface_name.h"

#include <stdexcept>

namespace wgmesh::netlink {

namespace {

bool is_name_byte(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

}  // namespace

std::optional<std::string> interface_name_problem(std::string_view name) {
    if (name.empty()) {
        return "it is empty";
    }
    if (name.size() > kMaxInterfaceNameBytes) {
        return "it has " + std::to_string(name.size()) + " bytes, the kernel allows 15";
    }
    if (name == "." || name == "..") {
        return "the kernel does not allow it";
    }
    for (const char c : name) {
        if (!is_name_byte(c)) {
            return "only letters, digits, '_', '.' and '-' are allowed";
        }
    }
    return std::nullopt;
}

bool is_valid_interface_name(std::string_view name) {
    return !interface_name_problem(name);
}

void require_valid_interface_name(std::string_view name) {
    if (auto problem = interface_name_problem(name)) {
        std::string shown;
        for (const char c : name.substr(0, 32)) {
            shown += (c > 0x20 && c < 0x7f) ? c : '?';
        }
        throw std::invalid_argument("invalid interface name '" + shown + "': " + *problem);
    }
}

}  // namespace wgmesh::netlink
