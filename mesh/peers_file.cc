#include "mesh/peers_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include "mesh/json_input.h"
#include "mesh/peer_cache.h"
#include "mesh/terminal_text.h"

namespace wgmesh::mesh {
namespace {

constexpr std::array<std::string_view, 9> kKnownFields = {
    "wg_pubkey",  "hostname",          "mesh_ip",  "mesh_ipv6", "endpoint",
    "introducer", "routable_networks", "nat_type", "last_seen"};
// Longest part of an unknown field's name shown back.
constexpr std::size_t kMaxShownFieldBytes = 64;

std::invalid_argument entry_error(std::size_t index, const std::string& what) {
    return std::invalid_argument("peer " + std::to_string(index + 1) + ": " + what);
}

// The entry as a peer, by the cache's own entry rules (so the two can never disagree) with
// last_seen ignored. `hostname_note` is set when its hostname had to be dropped.
Peer parse_entry(const nlohmann::json& entry, std::size_t index, const MeshAddressing& addressing,
                 std::optional<std::string>& hostname_note) {
    if (!entry.is_object()) {
        throw entry_error(index, "not a JSON object");
    }
    for (const auto& [name, value] : entry.items()) {
        bool known = false;
        for (const auto field : kKnownFields) {
            known = known || name == field;
        }
        if (!known) {
            throw entry_error(index,
                              "unknown field \"" + terminal_safe(name, kMaxShownFieldBytes) + "\"");
        }
    }
    const auto key_it = entry.find("wg_pubkey");
    if (key_it == entry.end() || !key_it->is_string()) {
        throw entry_error(index, "wg_pubkey (a base64 public key) is required");
    }
    if (const auto it = entry.find("nat_type"); it != entry.end() && !it->is_null()) {
        if (!it->is_string() || !parse_nat_type(it->get_ref<const std::string&>())) {
            throw entry_error(index, "nat_type must be \"cone\", \"symmetric\" or \"unknown\"");
        }
    }
    auto parsed = parse_cache_entry(entry, LastSeenRule::kIgnored);
    if (!parsed.peer) {
        throw entry_error(index, parsed.reason);
    }
    hostname_note = std::move(parsed.hostname_dropped);
    Peer& peer = *parsed.peer;
    if (peer.mesh_ip) {
        if (!addressing.network_v4().contains(*peer.mesh_ip)) {
            throw entry_error(index, "mesh_ip " + peer.mesh_ip->to_string() +
                                         " is outside the mesh network " +
                                         addressing.network_v4().to_string());
        }
    } else {
        peer.mesh_ip = addressing.mesh_ip(peer.wg_pubkey);
    }
    if (!peer.mesh_ipv6) {
        peer.mesh_ipv6 = addressing.mesh_ipv6(peer.wg_pubkey);
    }
    return std::move(peer);
}

std::string read_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        throw std::invalid_argument("cannot open: " + std::string(std::strerror(errno)));
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw std::invalid_argument("cannot stat: " + std::string(std::strerror(errno)));
    }
    if (!S_ISREG(st.st_mode)) {
        throw std::invalid_argument("not a regular file");
    }
    std::string data;
    std::array<char, 65536> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::invalid_argument("cannot read: " + std::string(std::strerror(errno)));
        }
        if (n == 0) {
            return data;
        }
        if (data.size() + static_cast<std::size_t>(n) > kMaxPeersFileBytes) {
            throw std::invalid_argument("larger than " + std::to_string(kMaxPeersFileBytes) +
                                        " bytes");
        }
        data.append(buffer.data(), static_cast<std::size_t>(n));
    }
}

// Whether only the peers file (and the cache, which merely remembers what the file said)
// vouches for the peer, so that leaving the file must take it out of the store.
bool known_only_from_file(const Peer& peer) {
    for (const auto& method : peer.discovered_via) {
        if (method != kStaticMethod && method != kCacheMethod) {
            return false;
        }
    }
    return true;
}

}  // namespace

PeersFileContent parse_peers_file(std::string_view bytes, const MeshAddressing& addressing,
                                  const wg::Key& local_key) {
    std::string error;
    const auto json =
        parse_json_bounded(bytes, {kMaxPeersFileBytes, kMaxPeersFileJsonDepth}, error);
    if (!json) {
        throw std::invalid_argument(error);
    }
    if (!json->is_array()) {
        throw std::invalid_argument("the top level must be a JSON list of peer objects");
    }
    if (json->size() > kMaxPeers) {
        throw std::invalid_argument("more than " + std::to_string(kMaxPeers) + " peers");
    }
    PeersFileContent content;
    std::unordered_set<wg::Key> seen;
    for (std::size_t i = 0; i < json->size(); ++i) {
        std::optional<std::string> hostname_note;
        auto peer = parse_entry((*json)[i], i, addressing, hostname_note);
        if (hostname_note) {
            content.notes.push_back("peer " + std::to_string(i + 1) + " (" +
                                    peer.wg_pubkey.to_base64() +
                                    "): hostname dropped: " + *hostname_note);
        }
        if (!seen.insert(peer.wg_pubkey).second) {
            throw entry_error(i, "wg_pubkey " + peer.wg_pubkey.to_base64() + " appears twice");
        }
        if (peer.wg_pubkey == local_key) {
            content.skipped_self = true;
            continue;
        }
        content.peers.push_back(std::move(peer));
    }
    return content;
}

PeersFileSource::PeersFileSource(std::filesystem::path path, PeerStore& store,
                                 MeshAddressing addressing, wg::Key local_key)
    : path_(std::move(path)),
      store_(store),
      addressing_(std::move(addressing)),
      local_key_(local_key) {}

PeersFileReload PeersFileSource::reload() {
    PeersFileReload report;
    PeersFileContent content;
    try {
        content = parse_peers_file(read_file(path_), addressing_, local_key_);
    } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        report.error = path_.string() + ": " + e.what() + "; keeping the last good set of " +
                       std::to_string(good_.size()) + " peers";
        report.peers = good_.size();
        return report;
    }
    std::lock_guard lock(mutex_);
    std::unordered_set<wg::Key> now_listed;
    for (const auto& peer : content.peers) {
        now_listed.insert(peer.wg_pubkey);
    }
    for (const auto& old : good_) {
        if (now_listed.contains(old.wg_pubkey)) {
            continue;
        }
        const auto stored = store_.get(old.wg_pubkey);
        if (stored && known_only_from_file(*stored) && store_.remove(old.wg_pubkey)) {
            ++report.removed;
        }
    }
    good_ = std::move(content.peers);
    report.notes = std::move(content.notes);
    push_locked(&report);
    report.ok = true;
    report.peers = good_.size();
    return report;
}

void PeersFileSource::refresh() {
    std::lock_guard lock(mutex_);
    push_locked(nullptr);
}

std::size_t PeersFileSource::push_locked(PeersFileReload* report) {
    std::size_t accepted = 0;
    for (const auto& peer : good_) {
        const auto outcome = store_.update(peer, kStaticMethod);
        if (outcome.accepted()) {
            ++accepted;
        } else if (report) {
            ++report->rejected;
            report->rejections.push_back(peer.wg_pubkey.to_base64() + ": " + outcome.reason);
        }
    }
    return accepted;
}

std::vector<wg::Key> PeersFileSource::keys() const {
    std::lock_guard lock(mutex_);
    std::vector<wg::Key> keys;
    keys.reserve(good_.size());
    for (const auto& peer : good_) {
        keys.push_back(peer.wg_pubkey);
    }
    return keys;
}

}  // namespace wgmesh::mesh
