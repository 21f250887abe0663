// Bounded JSON parsing for untrusted input (cache files, announcements): a size cap, a
// nesting-depth cap checked before nlohmann builds anything, and no exceptions out.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::mesh {

struct JsonLimits {
    std::size_t max_bytes = 16 * 1024 * 1024;
    std::size_t max_depth = 64;
};

// The parsed document, or nullopt with a one-line reason in `error`. Rejects input over
// the limits, raw NUL bytes, malformed JSON and ill-formed UTF-8 (nlohmann checks it). The
// reason is terminal-safe: bytes of the input it quotes are escaped (terminal_safe()).
std::optional<nlohmann::json> parse_json_bounded(std::string_view text, const JsonLimits& limits,
                                                 std::string& error);

// The deepest array/object nesting of a JSON text, ignoring brackets inside strings. It
// stops counting once `stop_at` is exceeded, so hostile input costs one linear pass.
std::size_t json_nesting_depth(std::string_view text, std::size_t stop_at);

// A JSON integer that fits `std::int64_t`; nullopt for floats, strings, overflow.
std::optional<std::int64_t> json_int64(const nlohmann::json& value);

}  // namespace wgmesh::mesh
