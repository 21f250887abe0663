// The text protocol of the userspace WireGuard UAPI socket (wireguard-go,
// https://www.wireguard.com/xplatform/#configuration-protocol), as pure functions: requests
// are built and replies parsed without any I/O, so both are unit-tested and fuzzed.
//
// Request:  "set=1\n" key=value lines "\n"   or   "get=1\n\n"
// Reply:    [key=value lines of the device, for get] "errno=N\n" "\n"
// Keys travel in lowercase hex. N is 0 on success, else a (negative) errno value.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "wg/config_diff.h"
#include "wg/device.h"

namespace wgmesh::wg {

// The peer broke the protocol (truncated, malformed or oversized reply).
struct UapiProtocolError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kUapiGetRequest = "get=1\n\n";
// Far beyond any real device (1000 peers take about 350 KiB); stops a hostile or broken
// peer from making us buffer without end.
inline constexpr std::size_t kMaxUapiReplyBytes = 32 * 1024 * 1024;
inline constexpr std::size_t kMaxUapiLineBytes = 4096;

// The whole update as one "set=1" transaction, ending with the blank line.
std::string format_uapi_set_request(const DeviceUpdate& update);

// The length of the first complete reply in `received` (through its terminating blank
// line), or nullopt while more bytes are needed.
std::optional<std::size_t> uapi_reply_length(std::string_view received);

// Parses a complete get reply (ending "errno=0\n\n"). Throws UapiProtocolError for any
// malformed, unknown or out-of-range line, and std::system_error when the device answered
// with a non-zero errno.
DeviceConfig parse_uapi_get_reply(std::string_view reply);

// Checks a complete set reply ("errno=N\n\n"): returns on errno=0, throws std::system_error
// carrying the device's errno otherwise, UapiProtocolError when the reply is malformed.
void parse_uapi_set_reply(std::string_view reply);

}  // namespace wgmesh::wg
