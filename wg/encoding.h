// Standard base64 (with padding) and lowercase hex, strict on input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wgmesh::wg {

std::string base64_encode(std::span<const std::uint8_t> bytes);
// Rejects non-alphabet characters, bad padding and non-canonical trailing bits.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);
std::string hex_encode(std::span<const std::uint8_t> bytes);
// Accepts upper- and lowercase digits; rejects odd lengths.
std::optional<std::vector<std::uint8_t>> hex_decode(std::string_view text);

}  // namespace wgmesh::wg
