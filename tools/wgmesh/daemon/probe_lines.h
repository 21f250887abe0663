// The mesh probe's line framing, shared by the probe server and client: bytes from a TCP
// stream become newline-terminated lines, compared after trimming ASCII whitespace as the Go
// daemon does (strings.TrimSpace), with a cap on a line's length so that a peer sending a
// megabyte without a newline costs at most the cap in memory.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wgmesh::cli {

inline constexpr std::string_view kProbePing = "ping";
inline constexpr std::string_view kProbePong = "pong";
// "ping"/"pong" with a CR or some padding fit many times over; anything longer is not ours.
inline constexpr std::size_t kMaxProbeLineBytes = 256;

// `line` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
std::string_view trim_probe_line(std::string_view line);

class ProbeLineReader {
  public:
    explicit ProbeLineReader(std::size_t max_line_bytes = kMaxProbeLineBytes)
        : max_line_bytes_(max_line_bytes) {}

    // Consumes `input` up to and including its first newline and returns that line (joined
    // with what earlier calls kept), trimmed; the view is valid until the next call. Without
    // a newline all of `input` is kept for the next call and nullopt returned. Once a line
    // (newline excluded) is longer than the cap, too_long() is set, nothing more is read and
    // the stream must be dropped.
    std::optional<std::string_view> next_line(std::string_view& input);
    bool too_long() const { return too_long_; }
    // Bytes of an unfinished line held for the next call (never more than the cap).
    std::size_t pending_bytes() const { return partial_.size(); }

  private:
    std::size_t max_line_bytes_;
    std::string partial_;
    std::string line_;
    bool too_long_ = false;
};

}  // namespace wgmesh::cli
