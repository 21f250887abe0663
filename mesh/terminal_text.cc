#include "mesh/terminal_text.h"

#include <algorithm>
#include <cstdio>

namespace wgmesh::mesh {
namespace {

void append_hex(std::string& out, const char* format, unsigned value) {
    char text[16];
    std::snprintf(text, sizeof text, format, value);
    out += text;
}

}  // namespace

bool acts_on_terminal(char32_t c) {
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e ||
           c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
           c == 0x2028 || c == 0x2029 || c == 0xfeff;
}

Utf8Char decode_utf8(std::string_view text) {
    if (text.empty()) {
        return {};
    }
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) {
        return {lead, 1};
    }
    std::size_t length = 0;
    char32_t c = 0;
    char32_t min = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2, c = lead & 0x1f, min = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3, c = lead & 0x0f, min = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4, c = lead & 0x07, min = 0x10000;
    } else {
        return {};
    }
    if (text.size() < length) {
        return {};
    }
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xc0) != 0x80) {
            return {};
        }
        c = (c << 6) | (byte(i) & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return {};
    }
    return {c, length};
}

bool is_valid_utf8(std::string_view text) {
    while (!text.empty()) {
        const auto ch = decode_utf8(text);
        if (ch.length == 0) {
            return false;
        }
        text.remove_prefix(ch.length);
    }
    return true;
}

std::string terminal_safe(std::string_view text, std::size_t max_input_bytes) {
    std::string out;
    out.reserve(std::min(text.size(), max_input_bytes) + 8);
    std::size_t used = 0;
    while (!text.empty()) {
        const auto ch = decode_utf8(text);
        const std::size_t length = ch.length == 0 ? 1 : ch.length;
        if (used + length > max_input_bytes) {
            out += "...";
            break;
        }
        used += length;
        if (ch.length == 0) {
            append_hex(out, "\\x%02x", static_cast<unsigned char>(text.front()));
        } else if (ch.code_point == '\\') {
            out += "\\\\";
        } else if (ch.code_point < 0x80 && acts_on_terminal(ch.code_point)) {
            append_hex(out, "\\x%02x", static_cast<unsigned>(ch.code_point));
        } else if (acts_on_terminal(ch.code_point)) {
            append_hex(out, "\\u%04x", static_cast<unsigned>(ch.code_point));
        } else {
            out.append(text.substr(0, length));
        }
        text.remove_prefix(length);
    }
    return out;
}

}  // namespace wgmesh::mesh
