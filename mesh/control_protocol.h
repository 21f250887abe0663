// The control socket's wire format: one JSON object per line.
//   request:  {"method": "...", "params": {...}}
//   response: {"ok": true, "result": ...} or {"ok": false, "error": "..."}
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace wgmesh::mesh {

inline constexpr std::size_t kMaxControlLineBytes = 64 * 1024;
inline constexpr std::size_t kMaxControlJsonDepth = 16;

struct ControlRequest {
    std::string method;
    nlohmann::json params = nlohmann::json::object();
};

// Throws std::invalid_argument with a client-facing message on anything malformed:
// oversized, not JSON, too deeply nested, not an object, method missing or not a string,
// params not an object, unknown top-level fields.
ControlRequest parse_control_request(std::string_view line);

std::string format_control_request(const ControlRequest& request);
std::string format_control_result(const nlohmann::json& result);
std::string format_control_error(std::string_view message);

}  // namespace wgmesh::mesh
