#include "mesh/peer_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "mesh/json_input.h"
#include "netlink/atomic_file.h"
#include "netlink/interface_name.h"
#include "netlink/unique_fd.h"

namespace wgmesh::mesh {

namespace {

using netlink::UniqueFd;

// Latest last_seen accepted: 2200-01-01. Keeps every later time_point conversion far from
// the nanosecond clock's overflow (year 2262).
constexpr std::int64_t kMaxUnixSeconds = 7258118400;

std::system_error file_error(int err, const std::string& what, const std::filesystem::path& path) {
    return std::system_error(err, std::generic_category(), what + " " + path.string());
}

std::optional<std::string> optional_string(const nlohmann::json& entry, const char* name,
                                           bool& bad) {
    auto it = entry.find(name);
    if (it == entry.end() || it->is_null()) {
        return std::nullopt;
    }
    if (!it->is_string()) {
        bad = true;
        return std::nullopt;
    }
    auto text = it->get<std::string>();
    if (text.empty()) {
        return std::nullopt;
    }
    return text;
}

std::optional<Peer> parse_entry(const nlohmann::json& entry) {
    if (!entry.is_object()) {
        return std::nullopt;
    }
    bool bad = false;
    Peer peer;
    const auto key_text = optional_string(entry, "wg_pubkey", bad);
    if (!key_text) {
        return std::nullopt;
    }
    auto key = wg::Key::parse(*key_text);
    if (!key || key->is_zero()) {
        return std::nullopt;
    }
    peer.wg_pubkey = *key;

    if (auto hostname = optional_string(entry, "hostname", bad)) {
        peer.hostname = std::move(*hostname);
    }
    if (auto text = optional_string(entry, "mesh_ip", bad)) {
        peer.mesh_ip = netlink::IpAddress::parse(*text);
        if (!peer.mesh_ip || !peer.mesh_ip->is_v4()) {
            return std::nullopt;
        }
    }
    if (auto text = optional_string(entry, "mesh_ipv6", bad)) {
        peer.mesh_ipv6 = netlink::IpAddress::parse(*text);
        if (!peer.mesh_ipv6 || !peer.mesh_ipv6->is_v6()) {
            return std::nullopt;
        }
    }
    if (auto text = optional_string(entry, "endpoint", bad)) {
        peer.endpoint = netlink::SocketAddress::parse(*text);
        if (!peer.endpoint) {
            return std::nullopt;
        }
    }
    if (auto it = entry.find("introducer"); it != entry.end() && !it->is_null()) {
        if (!it->is_boolean()) {
            return std::nullopt;
        }
        peer.introducer = it->get<bool>();
    }
    if (auto it = entry.find("routable_networks"); it != entry.end() && !it->is_null()) {
        if (!it->is_array() || it->size() > kMaxRoutableNetworksPerPeer) {
            return std::nullopt;
        }
        for (const auto& network : *it) {
            if (!network.is_string()) {
                return std::nullopt;
            }
            auto prefix = netlink::Prefix::parse(network.get_ref<const std::string&>());
            if (!prefix) {
                return std::nullopt;
            }
            peer.routable_networks.push_back(*prefix);
        }
    }
    if (auto text = optional_string(entry, "nat_type", bad)) {
        peer.nat_type = parse_nat_type(*text).value_or(NatType::kUnknown);
    }
    auto it = entry.find("last_seen");
    if (it == entry.end()) {
        return std::nullopt;
    }
    const auto seconds = json_int64(*it);
    if (!seconds || *seconds < 0 || *seconds > kMaxUnixSeconds) {
        return std::nullopt;
    }
    peer.last_seen = Clock::time_point(std::chrono::seconds(*seconds));
    if (bad || peer_rejection_reason(peer)) {
        return std::nullopt;
    }
    return peer;
}

std::int64_t unix_seconds(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The file's bytes, or nullopt when it does not exist. `oversized` is set (and nothing
// read) for a file over the cap; a non-regular file throws.
std::optional<std::string> read_capped(const std::filesystem::path& path, bool& oversized) {
    // O_NONBLOCK: a FIFO planted at the path must not hang the daemon at open().
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw file_error(errno, "could not open peer cache", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw file_error(errno, "could not stat peer cache", path);
    }
    if (!S_ISREG(st.st_mode)) {
        throw file_error(EINVAL, "peer cache is not a regular file:", path);
    }
    oversized = static_cast<std::uint64_t>(st.st_size) > kMaxCacheFileBytes;
    if (oversized) {
        return std::string();
    }
    std::string data;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw file_error(errno, "could not read peer cache", path);
        }
        if (n == 0) {
            break;
        }
        data.append(buffer, static_cast<std::size_t>(n));
        // The file may grow after fstat(); the cap holds for what we actually read.
        if (data.size() > kMaxCacheFileBytes) {
            oversized = true;
            return std::string();
        }
    }
    return data;
}

}  // namespace

CacheDocument parse_peer_cache(std::string_view bytes) {
    CacheDocument doc;
    std::string error;
    auto json = parse_json_bounded(bytes, {kMaxCacheFileBytes, kMaxCacheJsonDepth}, error);
    if (!json) {
        doc.error = std::move(error);
        return doc;
    }
    if (!json->is_object()) {
        doc.error = "the top level is not a JSON object";
        return doc;
    }
    if (auto it = json->find("updated_at"); it != json->end()) {
        doc.updated_at = json_int64(*it).value_or(0);
    }
    auto peers = json->find("peers");
    // The Go daemon writes "peers": null for an empty store.
    if (peers == json->end() || peers->is_null()) {
        return doc;
    }
    if (!peers->is_array()) {
        doc.error = "\"peers\" is not an array";
        return doc;
    }
    for (const auto& entry : *peers) {
        if (auto peer = parse_entry(entry)) {
            doc.peers.push_back(std::move(*peer));
        } else {
            ++doc.invalid;
        }
    }
    return doc;
}

std::string serialize_peer_cache(const std::vector<Peer>& peers, Clock::time_point updated_at) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Peer& peer : peers) {
        nlohmann::ordered_json entry;
        entry["wg_pubkey"] = peer.wg_pubkey.to_base64();
        if (!peer.hostname.empty()) {
            entry["hostname"] = peer.hostname;
        }
        entry["mesh_ip"] = peer.mesh_ip ? peer.mesh_ip->to_string() : "";
        if (peer.mesh_ipv6) {
            entry["mesh_ipv6"] = peer.mesh_ipv6->to_string();
        }
        entry["endpoint"] = peer.endpoint ? peer.endpoint->to_string() : "";
        if (peer.introducer) {
            entry["introducer"] = true;
        }
        if (!peer.routable_networks.empty()) {
            auto& networks = entry["routable_networks"] = nlohmann::ordered_json::array();
            for (const auto& prefix : peer.routable_networks) {
                networks.push_back(prefix.to_string());
            }
        }
        if (peer.nat_type != NatType::kUnknown) {
            entry["nat_type"] = std::string(to_string(peer.nat_type));
        }
        entry["last_seen"] = unix_seconds(peer.last_seen);
        list.push_back(std::move(entry));
    }
    nlohmann::ordered_json doc;
    doc["peers"] = std::move(list);
    doc["updated_at"] = unix_seconds(updated_at);
    doc["version"] = kCacheFormatVersion;
    return doc.dump(2) + "\n";
}

PeerCache::PeerCache(std::filesystem::path state_dir, std::string interface, CacheLogFn log)
    : state_dir_(std::move(state_dir)), interface_(std::move(interface)), log_(std::move(log)) {
    netlink::require_valid_interface_name(interface_);
    if (state_dir_.empty()) {
        throw std::invalid_argument("empty state directory for the peer cache");
    }
    path_ = file_path(state_dir_, interface_);
}

std::filesystem::path PeerCache::file_path(const std::filesystem::path& state_dir,
                                           std::string_view interface) {
    return state_dir / (std::string(interface) + "-peers.json");
}

std::filesystem::path PeerCache::temp_path() const {
    return path_.string() + ".tmp";
}

void PeerCache::log(std::string_view line) const {
    if (log_) {
        log_(line);
    } else {
        std::cerr << line << "\n";
    }
}

void PeerCache::save(const std::vector<Peer>& peers, Clock::time_point now) const {
    const std::string data = serialize_peer_cache(peers, now);
    std::lock_guard lock(save_mutex_);
    // The fixed temporary name (rather than a unique one) lets a crash's leftover be found
    // and replaced by the next save; save_mutex_ keeps this process's writers apart.
    try {
        netlink::make_private_directories(state_dir_);
        netlink::write_file_atomically(
            path_, data, {.mode = 0600, .temp_path = temp_path(), .before_rename = before_rename_});
    } catch (const std::system_error& e) {
        // The operator looks for the cache file's name; the step that failed (often on the
        // temporary file) and the kernel's text follow it.
        std::string step = e.what();
        const std::string kernel_text = ": " + e.code().message();
        if (step.ends_with(kernel_text)) {
            step.resize(step.size() - kernel_text.size());
        }
        throw std::system_error(e.code(),
                                "cannot save the peer cache " + path_.string() + " (" + step + ")");
    }
}

CacheFileState PeerCache::read() const {
    CacheFileState state;
    bool oversized = false;
    auto bytes = read_capped(path_, oversized);
    if (!bytes) {
        state.status = CacheFileState::Status::kMissing;
        return state;
    }
    if (oversized) {
        state.status = CacheFileState::Status::kCorrupt;
        state.error = "larger than " + std::to_string(kMaxCacheFileBytes) + " bytes";
        return state;
    }
    state.document = parse_peer_cache(*bytes);
    if (state.document.error) {
        state.status = CacheFileState::Status::kCorrupt;
        state.error = *state.document.error;
        return state;
    }
    state.status = CacheFileState::Status::kOk;
    return state;
}

CacheRestoreReport PeerCache::restore(PeerStore& store, Clock::time_point now) const {
    CacheRestoreReport report;
    CacheFileState state;
    try {
        state = read();
    } catch (const std::system_error& e) {
        log(std::string("peer cache: ") + e.what() + "; starting with no cached peers");
        return report;
    }
    if (state.status == CacheFileState::Status::kMissing) {
        report.file_missing = true;
        return report;
    }
    if (state.status == CacheFileState::Status::kCorrupt) {
        const std::string aside = path_.string() + ".corrupt";
        if (::rename(path_.c_str(), aside.c_str()) == 0) {
            report.moved_aside = true;
            log("peer cache " + path_.string() + " is corrupt (" + state.error + "); moved it to " +
                aside + " and starting with no cached peers");
        } else {
            const std::error_code ec(errno, std::generic_category());
            log("peer cache " + path_.string() + " is corrupt (" + state.error +
                ") and could not be moved to " + aside + ": " + ec.message() +
                "; starting with no cached peers");
        }
        return report;
    }
    report.invalid = state.document.invalid;
    for (Peer& peer : state.document.peers) {
        if (now - peer.last_seen > kCacheMaxAge) {
            ++report.expired;
            continue;
        }
        if (store.update(std::move(peer), kCacheMethod).accepted()) {
            ++report.restored;
        } else {
            ++report.rejected;
        }
    }
    log("peer cache " + path_.string() + ": restored " + std::to_string(report.restored) +
        " peers, skipped " + std::to_string(report.expired) + " older than 24 h, " +
        std::to_string(report.invalid) + " invalid, " + std::to_string(report.rejected) +
        " refused by the store");
    return report;
}

PeerCacheSaver::PeerCacheSaver(const PeerCache& cache, const PeerStore& store,
                               std::chrono::milliseconds interval, CacheLogFn log)
    : cache_(cache), store_(store), interval_(interval), log_(std::move(log)) {
    thread_ = std::thread([this] { run(); });
}

PeerCacheSaver::~PeerCacheSaver() {
    stop();
}

void PeerCacheSaver::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
            return;
        }
        lock.unlock();
        save_once();
        lock.lock();
    }
}

bool PeerCacheSaver::save_once() {
    try {
        cache_.save(store_);
        std::lock_guard lock(mutex_);
        ++saves_;
        last_error_.reset();
        return true;
    } catch (const std::exception& e) {
        {
            std::lock_guard lock(mutex_);
            ++failures_;
            last_error_ = e.what();
        }
        // One line per failed attempt (every interval at most): a read-only or full state
        // dir is reported for as long as it lasts, and the thread keeps trying.
        const std::string line =
            std::string("peer cache: ") + e.what() + "; the cache file on disk is unchanged";
        if (log_) {
            log_(line);
        } else {
            std::cerr << line << "\n";
        }
        return false;
    }
}

bool PeerCacheSaver::stop() {
    std::thread thread;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) {
            return final_saved_;
        }
        stopped_ = true;
        stopping_ = true;
        thread = std::move(thread_);
    }
    wake_.notify_all();
    if (thread.joinable()) {
        thread.join();
    }
    const bool saved = save_once();
    std::lock_guard lock(mutex_);
    final_saved_ = saved;
    return saved;
}

std::size_t PeerCacheSaver::saves() const {
    std::lock_guard lock(mutex_);
    return saves_;
}

std::size_t PeerCacheSaver::failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
}

std::optional<std::string> PeerCacheSaver::last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
}

}  // namespace wgmesh::mesh
