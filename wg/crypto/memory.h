// Handling secret bytes: wiping them so the compiler cannot drop the stores, and comparing
// them in time that does not depend on where they differ.
#pragma once

#include <cstdint>
#include <ranges>
#include <span>
#include <string_view>
#include <type_traits>

namespace wgmesh::wg::crypto {

// Overwrites `size` bytes at `data` with zeros even when nothing reads them afterwards
// (explicit_bzero: a plain memset before free or scope exit is a dead store the optimiser
// may remove).
void wipe_bytes(void* data, std::size_t size);

// wipe_bytes over a whole array, vector or string of plain values.
template <std::ranges::contiguous_range Range>
void wipe(Range&& range) {
    using Element = std::ranges::range_value_t<Range>;
    static_assert(std::is_trivially_copyable_v<Element>, "wipe only plain values");
    wipe_bytes(std::ranges::data(range), std::ranges::size(range) * sizeof(Element));
}

// True when a and b hold the same bytes; the time taken depends only on their length.
// Different lengths are unequal (lengths are not secret).
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// The bytes of a text, for the hash and KDF inputs that the mesh defines on strings.
inline std::span<const std::uint8_t> byte_view(std::string_view text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace wgmesh::wg::crypto
