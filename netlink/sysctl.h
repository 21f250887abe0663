// Kernel settings through /proc/sys files (never by running sysctl). `key` is the path
// below proc_sys, e.g. "net/ipv4/ip_forward"; it must not contain "..".
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace wgmesh::netlink {

// The value with surrounding whitespace removed. Throws std::system_error naming the file.
std::string read_sysctl(std::string_view key, const std::filesystem::path& proc_sys = "/proc/sys");
// Writes `value` followed by a newline. Throws std::system_error naming the file.
void write_sysctl(std::string_view key, std::string_view value,
                  const std::filesystem::path& proc_sys = "/proc/sys");
// Writes only when the current value differs; returns whether it wrote.
bool ensure_sysctl(std::string_view key, std::string_view value,
                   const std::filesystem::path& proc_sys = "/proc/sys");

// net.ipv4.ip_forward = 1, written only when it is not already 1. Returns whether it changed.
bool ensure_ipv4_forwarding(const std::filesystem::path& proc_sys = "/proc/sys");

}  // namespace wgmesh::netlink
