#include "wg/interface_name.h"

#include <net/if.h>

#include <stdexcept>
#include <string>

namespace wgmesh::wg {

void require_valid_interface_name(std::string_view name) {
    bool ok = !name.empty() && name.size() < IFNAMSIZ && name != "." && name != "..";
    for (char c : name) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '/' || c == ':' || byte <= 0x20 || byte == 0x7f)
            ok = false;
    }
    if (!ok) {
        throw std::invalid_argument("invalid interface name '" + std::string(name.substr(0, 32)) +
                                    "': need 1-15 characters without '/', ':' or spaces");
    }
}

}  // namespace wgmesh::wg
