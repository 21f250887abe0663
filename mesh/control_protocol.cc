#include "mesh/control_protocol.h"

#include <stdexcept>

#include "mesh/json_input.h"
#include "mesh/terminal_text.h"

namespace wgmesh::mesh {

namespace {

// An unknown field's name is the client's text, echoed into an error the CLI prints.
constexpr std::size_t kMaxShownFieldBytes = 64;

}  // namespace

ControlRequest parse_control_request(std::string_view line) {
    if (line.size() > kMaxControlLineBytes) {
        throw std::invalid_argument("request larger than " + std::to_string(kMaxControlLineBytes) +
                                    " bytes");
    }
    std::string error;
    const auto parsed = parse_json_bounded(
        line, JsonLimits{.max_bytes = kMaxControlLineBytes, .max_depth = kMaxControlJsonDepth},
        error);
    if (!parsed) {
        throw std::invalid_argument("malformed request: " + error);
    }
    const nlohmann::json& j = *parsed;
    if (!j.is_object()) {
        throw std::invalid_argument("request must be a JSON object");
    }
    ControlRequest request;
    for (const auto& [key, value] : j.items()) {
        if (key == "method") {
            if (!value.is_string()) {
                throw std::invalid_argument("\"method\" must be a string");
            }
            request.method = value.get<std::string>();
        } else if (key == "params") {
            if (!value.is_object()) {
                throw std::invalid_argument("\"params\" must be an object");
            }
            request.params = value;
        } else {
            std::string message = "unknown request field \"";
            message += terminal_safe(key, kMaxShownFieldBytes);
            message += '"';
            throw std::invalid_argument(message);
        }
    }
    if (request.method.empty()) {
        throw std::invalid_argument("request has no \"method\"");
    }
    return request;
}

std::string format_control_request(const ControlRequest& request) {
    const nlohmann::json params =
        request.params.is_null() ? nlohmann::json::object() : request.params;
    return nlohmann::json{{"method", request.method}, {"params", params}}.dump() + "\n";
}

std::string format_control_result(const nlohmann::json& result) {
    // Replacement of invalid UTF-8 keeps a hostile hostname from breaking the reply.
    return nlohmann::json{{"ok", true}, {"result", result}}.dump(
               -1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
}

std::string format_control_error(std::string_view message) {
    return nlohmann::json{{"ok", false}, {"error", std::string(message)}}.dump(
               -1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
}

}  // namespace wgmesh::mesh
