#include "mesh/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>

namespace wgmesh::mesh {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

bool stderr_is_journal() {
    // systemd sets JOURNAL_STREAM to "dev:inode" of the stream it connected to stderr.
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    return journal;
}

std::string_view level_name(LogLevel level) {
    switch (level) {
        case LogLevel::kError:
            return "error";
        case LogLevel::kWarning:
            return "warning";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kDebug:
            break;
    }
    return "debug";
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
    if (text == "error")
        return LogLevel::kError;
    if (text == "warn" || text == "warning")
        return LogLevel::kWarning;
    if (text == "info")
        return LogLevel::kInfo;
    if (text == "debug")
        return LogLevel::kDebug;
    return std::nullopt;
}

void set_log_level(LogLevel level) {
    g_level = static_cast<int>(level);
}

bool log_enabled(LogLevel level) {
    return static_cast<int>(level) <= g_level.load();
}

void log_line(LogLevel level, std::string_view message) {
    if (!log_enabled(level)) {
        return;
    }
    std::string line;
    if (stderr_is_journal()) {
        line += '<';
        line += std::to_string(static_cast<int>(level));
        line += '>';
    } else {
        const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm tm{};
        gmtime_r(&now, &tm);
        char stamp[32];
        std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm);
        line = stamp;
        line += level_name(level);
        line += ": ";
    }
    // Newlines inside a message would forge extra log lines.
    for (char c : message) {
        line += (c == '\n' || c == '\r') ? ' ' : c;
    }
    line += '\n';
    [[maybe_unused]] auto written = write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace wgmesh::mesh
