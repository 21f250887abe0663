// The mesh secret as the user gives it, and its checks.
#pragma once

#include <string>
#include <string_view>

namespace wgmesh::mesh {

inline constexpr std::size_t kMinSecretBytes = 16;

// Trims spaces; "wgmesh://<version>/<secret>[?...]" yields <secret>. Throws
// std::invalid_argument when fewer than kMinSecretBytes remain.
std::string parse_secret(std::string_view input);

}  // namespace wgmesh::mesh
