// Daemon logging: one line per event to stderr, with sd-daemon "<N>" priority prefixes
// when stderr is the journal (systemd sets JOURNAL_STREAM), filtered by --log-level.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::mesh {

// Numbers are syslog priorities.
enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

std::optional<LogLevel> parse_log_level(std::string_view text);  // error|warn|info|debug

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
// Thread-safe; a line is written with one write() so lines never interleave.
void log_line(LogLevel level, std::string_view message);

inline void log_error(std::string_view m) {
    log_line(LogLevel::kError, m);
}
inline void log_warning(std::string_view m) {
    log_line(LogLevel::kWarning, m);
}
inline void log_info(std::string_view m) {
    log_line(LogLevel::kInfo, m);
}
inline void log_debug(std::string_view m) {
    log_line(LogLevel::kDebug, m);
}

}  // namespace wgmesh::mesh
