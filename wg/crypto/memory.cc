#include "wg/crypto/memory.h"

#include <string.h>

namespace wgmesh::wg::crypto {

void wipe_bytes(void* data, std::size_t size) {
    explicit_bzero(data, size);
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    if (a.size() != b.size()) {
        return false;
    }
    // Volatile reads keep the compiler from turning the loop into an early-exit memcmp.
    const volatile std::uint8_t* left = a.data();
    const volatile std::uint8_t* right = b.data();
    std::uint8_t difference = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        difference |= static_cast<std::uint8_t>(left[i] ^ right[i]);
    }
    return difference == 0;
}

}  // namespace wgmesh::wg::crypto
