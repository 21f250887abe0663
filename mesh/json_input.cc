#include "mesh/json_input.h"

#include <limits>

#include "mesh/terminal_text.h"

namespace wgmesh::mesh {

std::size_t json_nesting_depth(std::string_view text, std::size_t stop_at) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            ++depth;
            if (depth > deepest) {
                deepest = depth;
                if (deepest > stop_at) {
                    return deepest;
                }
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

std::optional<nlohmann::json> parse_json_bounded(std::string_view text, const JsonLimits& limits,
                                                 std::string& error) {
    if (text.size() > limits.max_bytes) {
        error = "larger than " + std::to_string(limits.max_bytes) + " bytes";
        return std::nullopt;
    }
    // nlohmann's lexer takes a NUL byte for the end of input and would accept
    // "{}\0garbage"; raw NUL is never valid JSON text.
    if (text.find('\0') != std::string_view::npos) {
        error = "contains a NUL byte";
        return std::nullopt;
    }
    // nlohmann's parser is iterative, but the values it builds are destroyed and walked
    // recursively by callers; a depth cap keeps every later walk bounded too.
    if (json_nesting_depth(text, limits.max_depth) > limits.max_depth) {
        error = "nested deeper than " + std::to_string(limits.max_depth) + " levels";
        return std::nullopt;
    }
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        // nlohmann quotes the input it choked on ("last read: '...'"), raw bytes included;
        // the reason ends up in log lines and on terminals.
        error = "not valid JSON: " + terminal_safe(e.what());
        return std::nullopt;
    }
}

std::optional<std::int64_t> json_int64(const nlohmann::json& value) {
    if (value.is_number_unsigned()) {
        const auto u = value.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<std::int64_t>(u);
    }
    if (value.is_number_integer()) {
        return value.get<std::int64_t>();
    }
    return std::nullopt;
}

}  // namespace wgmesh::mesh
