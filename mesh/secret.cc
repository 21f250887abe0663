#include "mesh/secret.h"

#include <cstdint>
#include <optional>
#include <stdexcept>

namespace wgmesh::mesh {

namespace {

struct CodePoint {
    char32_t value;
    std::size_t length;  // bytes
};

// The first code point of `text` when it starts with a valid, shortest-form UTF-8 sequence
// (no surrogates, at most U+10FFFF), as Go's utf8.DecodeRuneInString accepts it.
std::optional<CodePoint> decode_first(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
    const std::uint8_t lead = byte(0);
    if (lead < 0x80) {
        return CodePoint{lead, 1};
    }
    std::size_t length = 0;
    char32_t value = 0;
    char32_t minimum = 0;
    if ((lead & 0xe0) == 0xc0) {
        length = 2, value = lead & 0x1f, minimum = 0x80;
    } else if ((lead & 0xf0) == 0xe0) {
        length = 3, value = lead & 0x0f, minimum = 0x800;
    } else if ((lead & 0xf8) == 0xf0) {
        length = 4, value = lead & 0x07, minimum = 0x10000;
    } else {
        return std::nullopt;
    }
    if (text.size() < length) {
        return std::nullopt;
    }
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xc0) != 0x80) {
            return std::nullopt;
        }
        value = (value << 6) | (byte(i) & 0x3f);
    }
    if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
        return std::nullopt;
    }
    return CodePoint{value, length};
}

// The last code point of `text`, decoded like Go's utf8.DecodeLastRuneInString: from the last
// lead byte within four bytes of the end, valid only when its sequence ends exactly there.
std::optional<CodePoint> decode_last(std::string_view text) {
    constexpr std::size_t kMaxSequence = 4;
    const std::size_t limit = text.size() > kMaxSequence ? text.size() - kMaxSequence : 0;
    for (std::size_t start = text.size(); start-- > limit;) {
        if ((static_cast<std::uint8_t>(text[start]) & 0xc0) != 0x80) {
            const auto decoded = decode_first(text.substr(start));
            if (decoded && start + decoded->length == text.size()) {
                return decoded;
            }
            return std::nullopt;
        }
    }
    return std::nullopt;
}

// Unicode's White_Space property, which Go's unicode.IsSpace implements.
bool is_white_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

std::string_view trim_white_space(std::string_view text, bool& trimmed_unicode_space) {
    while (const auto c = decode_first(text)) {
        if (!is_white_space(c->value)) {
            break;
        }
        trimmed_unicode_space |= c->value >= 0x80;
        text.remove_prefix(c->length);
    }
    while (const auto c = decode_last(text)) {
        if (!is_white_space(c->value)) {
            break;
        }
        trimmed_unicode_space |= c->value >= 0x80;
        text.remove_suffix(c->length);
    }
    return text;
}

}  // namespace

ParsedSecret parse_secret(std::string_view input) {
    ParsedSecret parsed;
    std::string_view secret = trim_white_space(input, parsed.trimmed_unicode_space);
    constexpr std::string_view kScheme = "wgmesh://";
    if (secret.starts_with(kScheme)) {
        secret.remove_prefix(kScheme.size());
        if (const auto slash = secret.find('/'); slash != std::string_view::npos) {
            secret = secret.substr(slash + 1);
            secret = secret.substr(0, secret.find('?'));
        }
    }
    if (secret.size() < kMinSecretBytes) {
        throw std::invalid_argument("the mesh secret must be at least " +
                                    std::to_string(kMinSecretBytes) + " bytes long");
    }
    parsed.value = std::string(secret);
    return parsed;
}

}  // namespace wgmesh::mesh
