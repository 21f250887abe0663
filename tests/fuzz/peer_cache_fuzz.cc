// The peer cache file is read at every start; whatever is in it (a torn disk, an editor,
// an attacker with write access to the state dir) must never crash the daemon. What parses
// must also survive serialisation and a second parse unchanged, and announcements share the
// bounded JSON reader, so they are fed the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mesh/dandelion.h"
#include "mesh/hostname.h"
#include "mesh/peer_cache.h"
#include "mesh/terminal_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace wgmesh::mesh;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const CacheDocument doc = parse_peer_cache(bytes);
    if (doc.error && !doc.peers.empty()) {
        std::abort();
    }
    // Error texts reach terminals and logs: never a raw byte of the input.
    if (doc.error) {
        if (!is_valid_utf8(*doc.error)) {
            std::abort();
        }
        for (const char c : *doc.error) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                std::abort();
            }
        }
    }
    // A hostname never costs the peer, and a kept one is always a valid one.
    for (const Peer& peer : doc.peers) {
        if (hostname_problem(peer.hostname)) {
            std::abort();
        }
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
