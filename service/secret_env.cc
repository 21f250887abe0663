#include "service/secret_env.h"

#include <cstdint>
#include <optional>
#include <stdexcept>

#include "service/service_paths.h"

namespace wgmesh::service {

namespace {

// Decodes one UTF-8 sequence at text[i]; nullopt for anything that is not the shortest form
// of a Unicode scalar value.
std::optional<char32_t> decode_utf8(std::string_view text, std::size_t& i) {
    const auto byte = [&text](std::size_t at) { return static_cast<std::uint8_t>(text[at]); };
    const std::uint8_t lead = byte(i);
    std::size_t length = 0;
    char32_t value = 0;
    char32_t minimum = 0;
    if (lead < 0x80) {
        ++i;
        return lead;
    }
    if ((lead & 0xe0) == 0xc0) {
        length = 2;
        value = lead & 0x1f;
        minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
        length = 3;
        value = lead & 0x0f;
        minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
        length = 4;
        value = lead & 0x07;
        minimum = 0x10000;
    } else {
        return std::nullopt;
    }
    if (i + length > text.size()) {
        return std::nullopt;
    }
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80) {
            return std::nullopt;
        }
        value = (value << 6) | (byte(i + k) & 0x3f);
    }
    if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
        return std::nullopt;
    }
    i += length;
    return value;
}

bool is_noncharacter(char32_t c) {
    return (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe;
}

void require_env_file_safe(std::string_view secret) {
    if (secret.empty()) {
        throw std::invalid_argument("the mesh secret is empty");
    }
    for (std::size_t i = 0; i < secret.size();) {
        const std::size_t at = i;
        const auto c = decode_utf8(secret, i);
        if (!c) {
            throw std::invalid_argument("the mesh secret is not valid UTF-8 (byte " +
                                        std::to_string(at) + "); systemd would not read it");
        }
        if (*c < 0x20 || *c == 0x7f) {
            throw std::invalid_argument("the mesh secret contains a control character (byte " +
                                        std::to_string(at) + "), such as a newline");
        }
        if (*c == 0xfeff || is_noncharacter(*c)) {
            throw std::invalid_argument(
                "the mesh secret contains a character systemd refuses "
                "in an environment file (byte " +
                std::to_string(at) + ")");
        }
    }
}

}  // namespace

std::string format_secret_env(std::string_view secret) {
    require_env_file_safe(secret);
    std::string line = std::string(kSecretVariable) + "=\"";
    for (const char c : secret) {
        if (c == '\\' || c == '"' || c == '`' || c == '$') {
            line += '\\';
        }
        line += c;
    }
    return "# The wgmesh mesh secret, read by systemd for wgmesh.service. Keep this file 0600.\n" +
           line + "\"\n";
}

}  // namespace wgmesh::service
