#include "mesh/peer_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "mesh/hostname.h"
#include "mesh/json_input.h"
#include "mesh/terminal_text.h"
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

// Longest part of a wg_pubkey string shown back (a valid key is 44 bytes).
constexpr std::size_t kMaxShownKeyBytes = 64;

// The string value of `name`: nullptr when absent, null or "" (omitted, as Go's omitempty
// writes it). `wrong_type` is set when the value is anything but a string.
const std::string* string_field(const nlohmann::json& entry, const char* name, bool& wrong_type) {
    wrong_type = false;
    const auto it = entry.find(name);
    if (it == entry.end() || it->is_null()) {
        return nullptr;
    }
    if (!it->is_string()) {
        wrong_type = true;
        return nullptr;
    }
    const auto& text = it->get_ref<const std::string&>();
    return text.empty() ? nullptr : &text;
}

// Reads one field into `peer`: "" when fine, otherwise why the entry is skipped.
using FieldReader = std::string (*)(const nlohmann::json& entry, Peer& peer);

std::string read_wg_pubkey(const nlohmann::json& entry, Peer& peer) {
    bool wrong_type = false;
    const std::string* text = string_field(entry, "wg_pubkey", wrong_type);
    if (wrong_type) {
        return "wg_pubkey is not a string";
    }
    if (text == nullptr) {
        return "wg_pubkey missing";
    }
    const auto key = wg::Key::parse(*text);
    if (!key) {
        return "wg_pubkey is not a base64 WireGuard key";
    }
    if (key->is_zero()) {
        return "wg_pubkey is all zeros";
    }
    peer.wg_pubkey = *key;
    return {};
}

std::string read_address(const nlohmann::json& entry, const char* name, bool v4,
                         std::optional<netlink::IpAddress>& out) {
    bool wrong_type = false;
    const std::string* text = string_field(entry, name, wrong_type);
    if (wrong_type) {
        return std::string(name) + " is not a string";
    }
    if (text != nullptr) {
        out = netlink::IpAddress::parse(*text);
        if (!out || out->is_v4() != v4) {
            return std::string(name) + (v4 ? " is not an IPv4 address" : " is not an IPv6 address");
        }
    }
    return {};
}

std::string read_mesh_ip(const nlohmann::json& entry, Peer& peer) {
    return read_address(entry, "mesh_ip", true, peer.mesh_ip);
}

std::string read_mesh_ipv6(const nlohmann::json& entry, Peer& peer) {
    return read_address(entry, "mesh_ipv6", false, peer.mesh_ipv6);
}

std::string read_endpoint(const nlohmann::json& entry, Peer& peer) {
    bool wrong_type = false;
    const std::string* text = string_field(entry, "endpoint", wrong_type);
    if (wrong_type) {
        return "endpoint is not a string";
    }
    if (text != nullptr) {
        peer.endpoint = netlink::SocketAddress::parse(*text);
        if (!peer.endpoint) {
            return "endpoint is not an IP:port address";
        }
    }
    return {};
}

std::string read_introducer(const nlohmann::json& entry, Peer& peer) {
    const auto it = entry.find("introducer");
    if (it == entry.end() || it->is_null()) {
        return {};
    }
    if (!it->is_boolean()) {
        return "introducer is not true or false";
    }
    peer.introducer = it->get<bool>();
    return {};
}

std::string read_routable_networks(const nlohmann::json& entry, Peer& peer) {
    const auto it = entry.find("routable_networks");
    if (it == entry.end() || it->is_null()) {
        return {};
    }
    if (!it->is_array()) {
        return "routable_networks is not a list";
    }
    if (it->size() > kMaxRoutableNetworksPerPeer) {
        return "routable_networks has more than " + std::to_string(kMaxRoutableNetworksPerPeer) +
               " entries";
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
        const auto& network = (*it)[i];
        const auto prefix = network.is_string()
                                ? netlink::Prefix::parse(network.get_ref<const std::string&>())
                                : std::nullopt;
        if (!prefix) {
            return "routable_networks[" + std::to_string(i) + "] is not a CIDR";
        }
        peer.routable_networks.push_back(*prefix);
    }
    return {};
}

std::string read_nat_type(const nlohmann::json& entry, Peer& peer) {
    bool wrong_type = false;
    const std::string* text = string_field(entry, "nat_type", wrong_type);
    if (wrong_type) {
        return "nat_type is not a string";
    }
    if (text != nullptr) {
        peer.nat_type = parse_nat_type(*text).value_or(NatType::kUnknown);
    }
    return {};
}

std::string read_last_seen(const nlohmann::json& entry, Peer& peer) {
    const auto it = entry.find("last_seen");
    if (it == entry.end()) {
        return "last_seen missing";
    }
    const auto seconds = json_int64(*it);
    if (!seconds) {
        return "last_seen is not an integer";
    }
    if (*seconds < 0 || *seconds > kMaxUnixSeconds) {
        return "last_seen is out of range (0 to year 2200)";
    }
    peer.last_seen = Clock::time_point(std::chrono::seconds(*seconds));
    return {};
}

// The hostname, or why it is dropped: it labels the peer and never costs it (SPEC 4).
std::optional<std::string> read_hostname(const nlohmann::json& entry, Peer& peer) {
    bool wrong_type = false;
    const std::string* text = string_field(entry, "hostname", wrong_type);
    if (wrong_type) {
        return "hostname is not a string";
    }
    if (text == nullptr) {
        return std::nullopt;
    }
    if (auto problem = hostname_problem(*text)) {
        return problem;
    }
    peer.hostname = *text;
    return std::nullopt;
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

void record(std::vector<CacheEntryIssue>& recorded, std::size_t& total, CacheEntryIssue issue) {
    ++total;
    if (recorded.size() < kMaxRecordedEntryIssues) {
        recorded.push_back(std::move(issue));
    }
}

}  // namespace

CacheEntry parse_cache_entry(const nlohmann::json& entry, LastSeenRule last_seen) {
    CacheEntry result;
    if (!entry.is_object()) {
        result.reason = "not a JSON object";
        return result;
    }
    // The key as given names the entry in messages; only built when there is one to write.
    const auto shown_key = [&entry] {
        const auto it = entry.find("wg_pubkey");
        return it != entry.end() && it->is_string()
                   ? terminal_safe(it->get_ref<const std::string&>(), kMaxShownKeyBytes)
                   : std::string();
    };
    const auto skip = [&](std::string reason) {
        result.reason = std::move(reason);
        result.key = shown_key();
        return std::move(result);
    };
    static constexpr FieldReader kReaders[] = {
        read_wg_pubkey,  read_mesh_ip,           read_mesh_ipv6, read_endpoint,
        read_introducer, read_routable_networks, read_nat_type,
    };
    Peer peer;
    for (const FieldReader read : kReaders) {
        if (auto reason = read(entry, peer); !reason.empty()) {
            return skip(std::move(reason));
        }
    }
    if (last_seen == LastSeenRule::kRequired) {
        if (auto reason = read_last_seen(entry, peer); !reason.empty()) {
            return skip(std::move(reason));
        }
    }
    if (auto reason = peer_rejection_reason(peer)) {
        return skip(std::move(*reason));
    }
    result.hostname_dropped = read_hostname(entry, peer);
    if (result.hostname_dropped) {
        result.key = shown_key();
    }
    result.peer = std::move(peer);
    return result;
}

std::vector<std::string> describe_entry_issues(const std::vector<CacheEntryIssue>& recorded,
                                               std::size_t total, std::size_t max_lines) {
    std::vector<std::string> lines;
    for (const auto& issue : recorded) {
        if (lines.size() == max_lines) {
            break;
        }
        std::string line = "peers[" + std::to_string(issue.index) + "]";
        if (!issue.key.empty()) {
            line += " \"" + issue.key + "\"";
        }
        lines.push_back(line + ": " + issue.reason);
    }
    if (total > lines.size()) {
        lines.push_back("and " + std::to_string(total - lines.size()) + " more");
    }
    return lines;
}

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
    for (std::size_t i = 0; i < peers->size(); ++i) {
        auto entry = parse_cache_entry((*peers)[i]);
        if (!entry.peer) {
            record(doc.skipped, doc.invalid, {i, std::move(entry.key), std::move(entry.reason)});
            continue;
        }
        if (entry.hostname_dropped) {
            record(doc.dropped_hostnames, doc.hostnames_dropped,
                   {i, std::move(entry.key), std::move(*entry.hostname_dropped)});
        }
        doc.peers.push_back(std::move(*entry.peer));
    }
    return doc;
}

std::string serialize_peer_cache(const std::vector<Peer>& peers, Clock::time_point updated_at) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Peer& peer : peers) {
        nlohmann::ordered_json entry;
        entry["wg_pubkey"] = peer.wg_pubkey.to_base64();
        if (!peer.hostname.empty() && !hostname_problem(peer.hostname)) {
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
        if (peer.nat_type != NatType::kNotReported) {
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
    report.hostnames_dropped = state.document.hostnames_dropped;
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
    const auto& doc = state.document;
    for (const auto& line : describe_entry_issues(doc.skipped, doc.invalid)) {
        log("peer cache: skipped " + line);
    }
    for (const auto& line : describe_entry_issues(doc.dropped_hostnames, doc.hostnames_dropped)) {
        log("peer cache: kept without its hostname " + line);
    }
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
