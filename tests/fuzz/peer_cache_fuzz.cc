// The peer cache file is read at every start; whatever is in it (a torn disk, an editor,
// an attacker with write access to the state dir) must never crash the daemon. What parses
// must also survive serialisation and a second parse unchanged, and announcements share the
// bounded JSON reader, so they are fed the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mesh/dandelion.h"
#include "mesh/peer_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wgmesh::mesh;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const CacheDocument doc = parse_peer_cache(bytes);
    if (doc.error && !doc.peers.empty()) {
        std::abort();
    }
    const std::string again = serialize_peer_cache(doc.peers, Clock::time_point{});
    const CacheDocument reparsed = parse_peer_cache(again);
    if (reparsed.error || reparsed.invalid != 0 || reparsed.peers.size() != doc.peers.size()) {
        std::abort();
    }
    if (auto announce = parse_announce(bytes)) {
        if (!(parse_announce(serialize_announce(*announce)) == announce)) {
            std::abort();
        }
    }
    return 0;
}
