// Plain-socket helpers for the mesh probe suites: the raw side of the conversation (a
// prober, a flooder, a slow-loris) written without the code under test.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "netlink/ip_address.h"
#include "netlink/unique_fd.h"

namespace wgmesh::test {

// A TCP port free on both IPv4 and IPv6 of this namespace right now.
std::uint16_t free_tcp_port();

// A blocking TCP connection to address:port, from `source` when given; invalid on failure
// (errno set). A receive timeout of `timeout` is set on it.
netlink::UniqueFd connect_tcp(const netlink::IpAddress& address, std::uint16_t port,
                              const std::optional<netlink::IpAddress>& source = std::nullopt,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends `text` and reads one line back (without its newline); nullopt on EOF, error or
// the receive timeout.
std::optional<std::string> send_and_read_line(int fd, const std::string& text);

// Whether the peer has closed `fd`: a read returns EOF or a reset within `timeout` (what
// arrives before is discarded).
bool closed_by_peer(int fd, std::chrono::milliseconds timeout);

// Open descriptors of this process (/proc/self/fd).
std::size_t open_descriptors();

}  // namespace wgmesh::test
