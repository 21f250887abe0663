#include "wg/crypto/random.h"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace wgmesh::wg::crypto {

void random_bytes(std::span<std::uint8_t> out) {
    std::size_t filled = 0;
    while (filled < out.size()) {
        // getrandom returns at most 32 MiB per call and may be interrupted by a signal
        // before filling everything: loop on short reads and EINTR.
        const ssize_t got = getrandom(out.data() + filled, out.size() - filled, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::system_error(errno, std::generic_category(),
                                    "could not read random bytes from getrandom");
        }
        filled += static_cast<std::size_t>(got);
    }
}

}  // namespace wgmesh::wg::crypto
