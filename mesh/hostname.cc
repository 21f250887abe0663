#include "mesh/hostname.h"

#include <cstdio>

#include "mesh/terminal_text.h"

namespace wgmesh::mesh {

std::optional<std::string> hostname_problem(std::string_view hostname) {
    if (hostname.size() > kMaxHostnameBytes) {
        return "hostname is " + std::to_string(hostname.size()) + " bytes long (at most " +
               std::to_string(kMaxHostnameBytes) + ")";
    }
    for (std::string_view rest = hostname; !rest.empty();) {
        const auto ch = decode_utf8(rest);
        if (ch.length == 0) {
            return std::string("hostname is not valid UTF-8");
        }
        const char32_t c = ch.code_point;
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) {
            char code[16];
            std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
            return std::string("hostname contains the control character ") + code;
        }
        rest.remove_prefix(ch.length);
    }
    return std::nullopt;
}

}  // namespace wgmesh::mesh
