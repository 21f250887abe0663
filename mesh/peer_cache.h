// The peer cache (SPEC section 5): `<state-dir>/<iface>-peers.json`, the same file the Go
// daemon reads and writes, saved atomically and durably, restored at startup through the
// store with the "cache" method so that restored peers keep their last_seen.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mesh/peer.h"
#include "mesh/peer_store.h"

namespace wgmesh::mesh {

inline constexpr std::size_t kMaxCacheFileBytes = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxCacheJsonDepth = 64;
inline constexpr int kCacheFormatVersion = 1;
inline constexpr auto kCacheSaveInterval = std::chrono::minutes(5);
inline constexpr auto kCacheMaxAge = std::chrono::hours(24);
inline constexpr std::string_view kDefaultStateDir = "/var/lib/wgmesh";

// How many skipped entries a CacheDocument describes one by one (it counts all of them),
// and how many of those an operator sees before "and N more".
inline constexpr std::size_t kMaxRecordedEntryIssues = 32;
inline constexpr std::size_t kEntryIssueLines = 5;

// One "peers" entry the reader skipped, or kept without a field it could not keep.
struct CacheEntryIssue {
    std::size_t index = 0;  // position in "peers", from 0
    std::string key;        // the wg_pubkey string as given, terminal-safe; empty when none
    std::string reason;     // "mesh_ip is not an IPv4 address", "last_seen missing", ...
};

// A whole cache document as read from bytes. `error` is set when the document as a whole
// is unusable (oversized, not JSON, too deep, not an object, "peers" neither an array nor
// null); then `peers` is empty. Otherwise every entry that is not a valid peer is skipped,
// counted in `invalid` and (the first kMaxRecordedEntryIssues) described in `skipped`; an
// entry whose only fault is its hostname is kept without it and noted the same way.
struct CacheDocument {
    std::vector<Peer> peers;  // last_seen from the file; discovered_via/endpoint_method empty
    std::size_t invalid = 0;
    std::vector<CacheEntryIssue> skipped;
    std::size_t hostnames_dropped = 0;
    std::vector<CacheEntryIssue> dropped_hostnames;
    std::int64_t updated_at = 0;       // unix seconds; 0 when absent or not an integer
    std::optional<std::string> error;  // terminal-safe
};

// Lines for an operator, one per recorded issue (`peers[3] "KEY": reason`, or `peers[3]:
// reason` without a key), at most `max_lines`, then "and N more" for the rest of `total`.
std::vector<std::string> describe_entry_issues(const std::vector<CacheEntryIssue>& recorded,
                                               std::size_t total,
                                               std::size_t max_lines = kEntryIssueLines);

// One "peers" entry by the cache's rules. Entries need a valid wg_pubkey and (unless
// ignored) an integer last_seen in [0, year 2200]; mesh_ip must be IPv4 and mesh_ipv6 IPv6
// when present and non-empty; endpoint an "ip:port" literal with a port and a specified
// address; routable_networks a list of CIDRs ("default" allowed); introducer a bool;
// nat_type a string. A hostname that is not a string or fails hostname_problem() is
// dropped on its own and the peer kept. nat_type "cone", "symmetric", "unknown" are kept as
// such, absent or "" is kNotReported, and any other word reads as kUnknown (liberal: a
// newer writer's value we cannot interpret; it only ever matters as "symmetric"). Unknown
// fields are ignored.
enum class LastSeenRule { kRequired, kIgnored };
struct CacheEntry {
    std::optional<Peer> peer;
    std::string reason;  // why the entry was skipped (no peer)
    // The wg_pubkey string as given, terminal-safe, when there is a reason or a dropped
    // hostname to report; empty otherwise.
    std::string key;
    std::optional<std::string> hostname_dropped;  // why the hostname was dropped
};
CacheEntry parse_cache_entry(const nlohmann::json& entry,
                             LastSeenRule last_seen = LastSeenRule::kRequired);

// Pure and total: any byte string gives a CacheDocument, never an exception or a crash.
// Each entry is read by parse_cache_entry().
CacheDocument parse_peer_cache(std::string_view bytes);

// The file schema with "version": 1, optional fields omitted when empty (nat_type when
// kNotReported), mesh_ip and endpoint always present (as "" when unknown) like the Go
// daemon writes them, peers in the given order. A hostname that fails hostname_problem()
// is left out (the store never holds one).
std::string serialize_peer_cache(const std::vector<Peer>& peers, Clock::time_point updated_at);

using CacheLogFn = std::function<void(std::string_view line)>;

struct CacheRestoreReport {
    bool file_missing = false;
    bool moved_aside = false;  // the file was corrupt or oversized and is now `.corrupt`
    std::size_t restored = 0;
    std::size_t expired = 0;            // older than 24 h
    std::size_t invalid = 0;            // skipped while parsing
    std::size_t hostnames_dropped = 0;  // restored without their invalid hostname
    std::size_t rejected = 0;           // refused by the store (full, or failed its validation)
};

// What a read-only look at the cache file found.
struct CacheFileState {
    enum class Status { kMissing, kOk, kCorrupt } status = Status::kMissing;
    CacheDocument document;  // for kOk
    std::string error;       // for kCorrupt
};

class PeerCache {
  public:
    // Throws std::invalid_argument for an invalid interface name. `log` receives one line
    // per notable event (corrupt file moved aside, restore summary); it defaults to stderr.
    PeerCache(std::filesystem::path state_dir, std::string interface, CacheLogFn log = {});

    static std::filesystem::path file_path(const std::filesystem::path& state_dir,
                                           std::string_view interface);
    const std::filesystem::path& path() const { return path_; }
    // The temporary file a save writes before renaming it over path().
    std::filesystem::path temp_path() const;

    // Atomic and durable: creates the state dir (0700) if needed, writes temp_path()
    // (O_CREAT|O_EXCL, 0600; a leftover from a crash is removed first), fsyncs it, renames
    // it over path() and fsyncs the directory. A process killed at any point leaves path()
    // as the old or the new version, plus at most temp_path(). On failure (read-only or
    // full file system, ...) path() is untouched, the temporary file removed, and a
    // std::system_error thrown whose code is the kernel's errno and whose text reads
    // "cannot save the peer cache <path> (<failed step>): <kernel text>".
    void save(const std::vector<Peer>& peers, Clock::time_point now) const;
    void save(const PeerStore& store) const { save(store.all(), store.now()); }

    // Read-only: never moves or changes anything (what `wgmesh cache show` uses). Errors
    // other than a missing file (permissions, I/O) throw std::system_error.
    CacheFileState read() const;

    // Startup restore: entries whose last_seen is at most 24 h before `now` go into the
    // store with the "cache" method (an entry exactly 24 h old is kept). A corrupt or
    // oversized file is renamed to `<name>.corrupt` with one log line; the store stays
    // as it was. Otherwise one summary line, then up to kEntryIssueLines lines naming the
    // skipped entries (position, key, reason) and as many for dropped hostnames.
    CacheRestoreReport restore(PeerStore& store, Clock::time_point now) const;
    CacheRestoreReport restore(PeerStore& store) const { return restore(store, store.now()); }

    // Test hook: runs after the temporary file is written and synced, before the rename.
    // Throwing from it (or dying in it) simulates a crash at the worst moment.
    void set_before_rename_hook(std::function<void(const std::filesystem::path&)> hook) {
        before_rename_ = std::move(hook);
    }

  private:
    void log(std::string_view line) const;

    std::filesystem::path state_dir_;
    std::string interface_;
    std::filesystem::path path_;
    CacheLogFn log_;
    std::function<void(const std::filesystem::path&)> before_rename_;
    mutable std::mutex save_mutex_;  // one writer of temp_path() at a time
};

// Saves the store every `interval` on its own thread and once more in stop(). Failures
// are logged (one line per failed attempt, naming the file and the kernel's text) and
// counted; they never stop the thread, and the next attempt starts over.
class PeerCacheSaver {
  public:
    PeerCacheSaver(const PeerCache& cache, const PeerStore& store,
                   std::chrono::milliseconds interval = kCacheSaveInterval, CacheLogFn log = {});
    ~PeerCacheSaver();  // stop()
    PeerCacheSaver(const PeerCacheSaver&) = delete;
    PeerCacheSaver& operator=(const PeerCacheSaver&) = delete;

    // Wakes the thread at once, joins it, then saves a final time. Idempotent. Returns
    // whether that final save succeeded (last_error() says why not).
    bool stop();
    std::size_t saves() const;
    std::size_t failures() const;
    // Why the latest attempt failed; nullopt once an attempt succeeded again.
    std::optional<std::string> last_error() const;

  private:
    void run();
    bool save_once();

    const PeerCache& cache_;
    const PeerStore& store_;
    const std::chrono::milliseconds interval_;
    CacheLogFn log_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool stopped_ = false;
    std::size_t saves_ = 0;
    std::size_t failures_ = 0;
    std::optional<std::string> last_error_;
    bool final_saved_ = false;
    std::thread thread_;
};

}  // namespace wgmesh::mesh
