#include "tools/wgmesh/daemon/probe_lines.h"

namespace wgmesh::cli {

namespace {

bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

std::string_view trim_probe_line(std::string_view line) {
    while (!line.empty() && is_ascii_space(line.front())) {
        line.remove_prefix(1);
    }
    while (!line.empty() && is_ascii_space(line.back())) {
        line.remove_suffix(1);
    }
    return line;
}

std::optional<std::string_view> ProbeLineReader::next_line(std::string_view& input) {
    if (too_long_) {
        return std::nullopt;
    }
    const std::size_t newline = input.find('\n');
    const std::size_t taken = newline == std::string_view::npos ? input.size() : newline;
    if (partial_.size() + taken > max_line_bytes_) {
        too_long_ = true;
        partial_.clear();
        partial_.shrink_to_fit();
        return std::nullopt;
    }
    if (newline == std::string_view::npos) {
        partial_.append(input);
        input = {};
        return std::nullopt;
    }
    line_.assign(partial_);
    line_.append(input.substr(0, newline));
    partial_.clear();
    input.remove_prefix(newline + 1);
    return trim_probe_line(line_);
}

}  // namespace wgmesh::cli
