// `wgmesh metrics`: the running daemon's metrics in the Prometheus text format, asked for over
// the control socket (method "metrics", result {"text": "..."}); docs/metrics.md.
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mesh/control_server.h"
#include "mesh/terminal_text.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/control_socket_flag.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {
namespace {

constexpr const char* kUsage =
    "usage: wgmesh metrics --interface IF [--socket PATH]\n\n"
    "Prints the running daemon's metrics in the Prometheus text format (version 0.0.4),\n"
    "the same text `wgmesh join --metrics-file` writes after every cycle.\n";

// The exposition is printed as it came; a daemon's answer is still outside input, so it must
// be UTF-8 text whose only control character is the newline.
bool is_printable_text(const std::string& text) {
    if (!mesh::is_valid_utf8(text)) {
        return false;
    }
    std::string_view rest = text;
    while (!rest.empty()) {
        const mesh::Utf8Char ch = mesh::decode_utf8(rest);
        if (ch.code_point != '\n' && mesh::acts_on_terminal(ch.code_point)) {
            return false;
        }
        rest.remove_prefix(ch.length);
    }
    return true;
}

// The exposition text, or nullopt after saying on stderr why there is none.
std::optional<std::string> fetch(const std::filesystem::path& socket) {
    nlohmann::json response;
    try {
        response = mesh::control_call(socket, {"metrics", nlohmann::json::object()});
    } catch (const std::exception& e) {
        std::cerr << "wgmesh: no daemon answers on " << socket.string()
                  << " (is `wgmesh join` running for this interface?): " << e.what() << "\n";
        return std::nullopt;
    }
    if (!response.value("ok", false)) {
        const auto error = response.find("error");
        const std::string text = error != response.end() && error->is_string()
                                     ? error->get<std::string>()
                                     : response.dump();
        if (text.starts_with("unknown method \"metrics\"")) {
            std::cerr << "wgmesh: the daemon on " << socket.string()
                      << " does not serve metrics: it runs an older wgmesh; restart it with "
                         "this version\n";
        } else {
            std::cerr << "wgmesh: the daemon refused: " << mesh::terminal_safe(text) << "\n";
        }
        return std::nullopt;
    }
    const nlohmann::json* text = nullptr;
    if (const auto result = response.find("result");
        result != response.end() && result->is_object()) {
        if (const auto found = result->find("text"); found != result->end()) {
            text = &*found;
        }
    }
    if (!text || !text->is_string() || !is_printable_text(text->get_ref<const std::string&>())) {
        std::cerr << "wgmesh: the daemon on " << socket.string()
                  << " answered without printable metrics text\n";
        return std::nullopt;
    }
    return text->get<std::string>();
}

}  // namespace

int run_metrics(Args args) {
    const std::vector<FlagSpec> specs = {
        {"interface", "IF", "the daemon's interface (selects its socket)"},
        {"socket", "PATH", "control socket (default /run/wgmesh/<IF>.sock)"},
    };
    const Flags flags(args, specs);
    if (flags.help_requested()) {
        std::cout << kUsage << "\nflags:\n" << describe_flags(specs);
        return 0;
    }
    if (!flags.positional().empty()) {
        throw UsageError("unexpected argument '" + flags.positional().front() + "'");
    }
    const std::optional<std::string> text = fetch(control_socket_path(flags));
    if (!text) {
        return 1;
    }
    std::cout << *text;
    return 0;
}

}  // namespace wgmesh::cli
