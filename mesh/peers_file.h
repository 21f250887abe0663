// The `--peers-file` peer source (SPEC section 13): a JSON list of peer objects with the
// peer cache's field names, read at start and on SIGHUP. Its peers enter the store with the
// method "static"; peers that left the file leave the store unless another source (other
// than the cache) also knows them. A bad file keeps the last good set.
#pragma once

#include <cstddef>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/mesh_address.h"
#include "mesh/peer.h"
#include "mesh/peer_store.h"
#include "wg/key.h"

namespace wgmesh::mesh {

inline constexpr std::string_view kStaticMethod = "static";
inline constexpr std::size_t kMaxPeersFileBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxPeersFileJsonDepth = 16;

struct PeersFileContent {
    std::vector<Peer> peers;    // in file order, mesh addresses filled in
    bool skipped_self = false;  // the file names this node (one file shared by all nodes)
    // One line per peer kept without its invalid hostname: "peer 2 (KEY): hostname dropped:
    // hostname contains the control character U+001B".
    std::vector<std::string> notes;
};

// Strict and total: any byte string either parses or throws std::invalid_argument with a
// one-line reason naming the entry and field. The top level must be a JSON array of at most
// kMaxPeers objects. Each object takes only the cache's field names (wg_pubkey required;
// hostname, mesh_ip, mesh_ipv6, endpoint, introducer, routable_networks, nat_type optional;
// last_seen tolerated and ignored) and is validated by the cache's own entry parser
// (parse_cache_entry()), whose reason the error carries; a nat_type must be cone, symmetric
// or unknown (stricter than the cache: here an unknown word is a typo); a key may appear
// once. An invalid hostname (hostname_problem()) is the exception to strictness: it is
// dropped on its own, the peer kept, and `notes` says so. mesh_ip and mesh_ipv6 are derived
// through `addressing` when absent; a given mesh_ip must lie in the mesh's IPv4 network.
// The entry with `local_key` is left out. Error texts are terminal-safe.
PeersFileContent parse_peers_file(std::string_view bytes, const MeshAddressing& addressing,
                                  const wg::Key& local_key);

struct PeersFileReload {
    bool ok = false;
    std::string error;         // why the file was not used (ok == false)
    std::size_t peers = 0;     // peers in the good set now in use
    std::size_t removed = 0;   // peers that left the file and the store
    std::size_t rejected = 0;  // refused by the store (full or invalid)
    std::vector<std::string> rejections;
    std::vector<std::string> notes;  // PeersFileContent::notes of the file now in use
};

class PeersFileSource {
  public:
    PeersFileSource(std::filesystem::path path, PeerStore& store, MeshAddressing addressing,
                    wg::Key local_key);
    PeersFileSource(const PeersFileSource&) = delete;
    PeersFileSource& operator=(const PeersFileSource&) = delete;

    // Reads and applies the file. On any error the previous good set stays in the store
    // and in force; the reason is in the result. Never throws for file contents or I/O.
    PeersFileReload reload();
    // Reports the good set to the store again, so static peers stay active (a live source
    // refreshes last_seen; nothing else would for these).
    void refresh();

    const std::filesystem::path& path() const { return path_; }
    std::vector<wg::Key> keys() const;

  private:
    std::size_t push_locked(PeersFileReload* report);

    const std::filesystem::path path_;
    PeerStore& store_;
    const MeshAddressing addressing_;
    const wg::Key local_key_;
    mutable std::mutex mutex_;
    std::vector<Peer> good_;
};

}  // namespace wgmesh::mesh
