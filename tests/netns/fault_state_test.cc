// Issue 7, state dir faults with the real daemon (WGMESH_BINARY) in network namespaces:
// kill -9 at seeded random moments while peers are added and the cache is saved (and during
// the final save after SIGTERM) leaves a cache the product parses and that holds a peer set
// the daemon could have saved; a read-only or full state dir (a small tmpfs in this test's
// own mount namespace) makes saves fail with the file's name and the kernel's text while the
// daemon keeps running and reconciling, and the next save after the fault is fixed succeeds.
//
// Replay a failure with WGMESH_FAULT_SEED=<seed printed in the failure message>.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mesh/peer_cache.h"
#include "netlink/atomic_file.h"
#include "tests/support/mesh_node.h"
#include "tests/support/netns.h"
#include "tests/support/process.h"
#include "wg/key.h"

namespace wgmesh::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

std::uint64_t fault_seed() {
    if (const char* text = std::getenv("WGMESH_FAULT_SEED")) {
        return std::strtoull(text, nullptr, 10);
    }
    return std::random_device{}();
}

// The cache file through the product's parser: its keys, or an error text.
struct CacheKeys {
    std::set<std::string> keys;
    std::string error;  // empty when the file parsed
};

CacheKeys cache_keys(const fs::path& path) {
    CacheKeys result;
    const auto bytes = netlink::read_file_if_exists(path);
    if (!bytes) {
        result.error = "missing";
        return result;
    }
    const auto doc = mesh::parse_peer_cache(*bytes);
    if (doc.error) {
        result.error = *doc.error + " in:\n" + *bytes;
        return result;
    }
    if (doc.invalid != 0) {
        result.error = std::to_string(doc.invalid) + " invalid entries in:\n" + *bytes;
        return result;
    }
    for (const auto& peer : doc.peers) {
        result.keys.insert(peer.wg_pubkey.to_base64());
    }
    return result;
}

std::set<std::string> listed_peer_keys(const Node& node) {
    std::set<std::string> keys;
    if (const auto peers = node.call("peers")) {
        for (const auto& peer : *peers) {
            keys.insert(peer.value("wg_pubkey", ""));
        }
    }
    return keys;
}

// Files in `dir` that are a temporary file of the cache other than its fixed one (a unique
// `.<name>.XXXXXX` or anything else starting with the cache's name).
std::vector<std::string> stray_cache_files(const Node& node) {
    const std::string cache = node.cache_file().filename().string();
    std::vector<std::string> stray;
    for (const auto& entry : fs::directory_iterator(node.daemon_state_dir())) {
        const auto name = entry.path().filename().string();
        if (name != cache && name != cache + ".tmp" && (name.find(cache) != std::string::npos)) {
            stray.push_back(name);
        }
    }
    return stray;
}

// ---- kill -9 during saves ----------------------------------------------------------------

// Peers only get added (through the control socket, in this order), while another thread
// keeps saving the cache. Every saved file holds the restored peers plus a prefix of the
// added ones: at least what the last acknowledged save had, at most every add attempted.
class SaveRace {
  public:
    SaveRace(const Node& node, const std::vector<std::string>& sequence, std::size_t restored)
        : node_(node),
          sequence_(sequence),
          restored_(restored),
          acked_(restored),
          attempted_(restored),
          saved_floor_(restored) {}

    void start(std::size_t max_adds, bool save) {
        adder_ = std::thread([this, max_adds] {
            for (std::size_t i = 0; i < max_adds && !stopping_; ++i) {
                const std::size_t index = attempted_.load();
                if (index >= sequence_.size()) {
                    return;
                }
                ++attempted_;
                if (!node_.call("peer.add", {{"wg_pubkey", sequence_[index]}})) {
                    return;  // killed
                }
                ++acked_;
                std::this_thread::sleep_for(3ms);
            }
        });
        if (save) {
            saver_ = std::thread([this] {
                while (!stopping_) {
                    const std::size_t floor = acked_.load();
                    if (!node_.call("cache.save")) {
                        return;  // killed
                    }
                    saved_floor_ = floor;
                    ++saves_;
                }
            });
        }
    }

    void join() {
        stopping_ = true;
        if (adder_.joinable()) {
            adder_.join();
        }
        if (saver_.joinable()) {
            saver_.join();
        }
    }
    ~SaveRace() { join(); }

    std::size_t acked() const { return acked_; }
    std::size_t attempted() const { return attempted_; }
    std::size_t saved_floor() const { return saved_floor_; }
    std::size_t saves() const { return saves_; }

  private:
    const Node& node_;
    const std::vector<std::string>& sequence_;
    std::size_t restored_;
    std::atomic<std::size_t> acked_;
    std::atomic<std::size_t> attempted_;
    std::atomic<std::size_t> saved_floor_;
    std::atomic<std::size_t> saves_{0};
    std::atomic<bool> stopping_{false};
    std::thread adder_;
    std::thread saver_;
};

// The file's peer set must be exactly sequence[0, n) for some n in [low, high].
std::size_t expect_prefix(const CacheKeys& file, const std::vector<std::string>& sequence,
                          std::size_t low, std::size_t high) {
    EXPECT_TRUE(file.error.empty()) << "cache file unusable: " << file.error;
    const std::size_t n = file.keys.size();
    EXPECT_GE(n, low) << "the cache lost peers of an acknowledged save";
    EXPECT_LE(n, high) << "the cache holds more peers than were ever added";
    const std::set<std::string> prefix(
        sequence.begin(),
        sequence.begin() + static_cast<std::ptrdiff_t>(std::min(n, sequence.size())));
    EXPECT_EQ(file.keys, prefix) << "the cache is not a set the daemon could have saved";
    return n;
}

std::vector<std::string> peer_sequence(std::size_t count) {
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < count; ++i) {
        keys.push_back(wg::Key::generate_private().public_key().to_base64());
    }
    return keys;
}

// Starts the daemon and checks the restore: the peers it lists are exactly the cache's.
void start_and_check_restore(Node& node, const std::set<std::string>& cached) {
    node.start();
    EXPECT_EQ(listed_peer_keys(node), cached) << "the restart did not restore the cache";
    const auto status = node.call("status");
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->at("peers").value("known", 0u), cached.size()) << status->dump();
}

TEST(FaultState, KillNineDuringCacheSavesLeavesASetTheDaemonCouldHaveSaved) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    const std::uint64_t seed = fault_seed();
    SCOPED_TRACE("WGMESH_FAULT_SEED=" + std::to_string(seed));
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<int> delay_ms(20, 400);

    TempDir dir;
    Node node("k", dir.path());
    constexpr int kIterations = 15;
    constexpr std::size_t kMaxAdds = 60;
    // Long enough for every add of every iteration, however fast the machine is.
    const auto sequence = peer_sequence(kIterations * kMaxAdds);
    std::set<std::string> cached;  // what the file held after the previous kill
    std::size_t saves = 0;
    for (int iteration = 0; iteration < kIterations; ++iteration) {
        SCOPED_TRACE("kill iteration " + std::to_string(iteration));
        start_and_check_restore(node, cached);
        SaveRace race(node, sequence, cached.size());
        race.start(kMaxAdds, true);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
        node.stop(SIGKILL);
        race.join();
        saves += race.saves();

        const auto file = cache_keys(node.cache_file());
        if (race.saves() == 0 && cached.empty()) {
            // No save acknowledged yet and none before: no file is fine, a file must parse.
            if (file.error == "missing") {
                continue;
            }
        }
        expect_prefix(file, sequence, race.saved_floor(), race.attempted());
        EXPECT_EQ(stray_cache_files(node), std::vector<std::string>{});
        if (HasFailure()) {
            return;
        }
        cached = file.keys;
    }
    // The last kill's file restores too.
    start_and_check_restore(node, cached);
    EXPECT_GT(cached.size(), 0u) << "no save ever completed before a kill";
    // The operator's view of the same file agrees.
    const auto shown = run_command({WGMESH_BINARY, "cache", "show", "--interface", node.interface(),
                                    "--state-dir", node.state_dir().string(), "--json"});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    std::set<std::string> shown_keys;
    const auto shown_json = json::parse(shown.out);    // a range-for over a temporary's member
    for (const auto& peer : shown_json.at("peers")) {  // would dangle
        shown_keys.insert(peer.at("wg_pubkey").get<std::string>());
    }
    EXPECT_EQ(shown_keys, cached) << shown.err;
    std::cout << "seed " << seed << ": " << kIterations << " kills, " << saves
              << " acknowledged saves, " << cached.size() << " peers in the last cache\n";
}

TEST(FaultState, SigkillDuringTheFinalSaveAfterSigtermLeavesTheOldOrTheNewCache) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    const std::uint64_t seed = fault_seed();
    SCOPED_TRACE("WGMESH_FAULT_SEED=" + std::to_string(seed));
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<int> race_ms(20, 200);
    // Iteration 0 stops cleanly and measures how long a shutdown takes on this machine and
    // build; later kills land anywhere in [0, 1.2 x that], the final save included.
    std::chrono::microseconds shutdown{0};

    TempDir dir;
    Node node("t", dir.path());
    constexpr int kIterations = 12;
    constexpr std::size_t kMaxAdds = 30;
    // Every iteration adds at most kMaxAdds in its race and one more before the stop: the
    // sequence never runs out, however fast the machine is.
    const auto sequence = peer_sequence(kIterations * (kMaxAdds + 1));
    std::set<std::string> cached;
    int completed = 0;
    int interrupted = 0;
    for (int iteration = 0; iteration < kIterations; ++iteration) {
        SCOPED_TRACE("term iteration " + std::to_string(iteration));
        start_and_check_restore(node, cached);
        SaveRace race(node, sequence, cached.size());
        race.start(kMaxAdds, true);
        std::this_thread::sleep_for(std::chrono::milliseconds(race_ms(random)));
        race.join();
        // One more acknowledged add the file does not hold yet: only the final save writes it.
        const std::size_t all = race.acked() + 1;
        ASSERT_LT(race.acked(), sequence.size());
        ASSERT_TRUE(node.call("peer.add", {{"wg_pubkey", sequence[race.acked()]}}).has_value());

        std::chrono::microseconds delay = kDaemonBound;
        if (iteration > 0) {
            std::uniform_int_distribution<std::int64_t> kill_after_us(0, shutdown.count() * 6 / 5);
            delay = std::chrono::microseconds(kill_after_us(random));
        }
        const auto stop_started = std::chrono::steady_clock::now();
        const int status = node.stop_with(SIGTERM, delay, SIGKILL);
        if (iteration == 0) {
            ASSERT_TRUE(WIFEXITED(status))
                << "a clean stop took over " << kDaemonBound.count() << " s";
            shutdown = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - stop_started);
        }
        const bool exited = WIFEXITED(status);
        const auto file = cache_keys(node.cache_file());
        if (!exited && race.saves() == 0 && cached.empty() && file.error == "missing") {
            ++interrupted;  // killed before any save completed: no file is the old state
            continue;
        }
        if (exited) {
            ++completed;
            EXPECT_EQ(WEXITSTATUS(status), 0);
            // A clean stop saved everything.
            expect_prefix(file, sequence, all, all);
        } else {
            ++interrupted;
            EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
            expect_prefix(file, sequence, race.saved_floor(), all);
        }
        EXPECT_EQ(stray_cache_files(node), std::vector<std::string>{});
        if (HasFailure()) {
            return;
        }
        cached = file.keys;
    }
    start_and_check_restore(node, cached);
    std::cout << "seed " << seed << ": shutdown takes " << shutdown.count() << " us; " << completed
              << " clean stops, " << interrupted << " killed during shutdown\n";
}

// ---- read-only and full state dir --------------------------------------------------------

// This process's own mount namespace with every mount private: the tmpfs mounts and
// remounts below never reach the host. The daemons (`ip netns exec` copies this namespace)
// see the same tmpfs superblock, so a remount read-only reaches them too.
void isolate_mounts() {
    static const int error = [] {
        if (::unshare(CLONE_NEWNS) != 0) {
            return errno;
        }
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            return errno;
        }
        return 0;
    }();
    ASSERT_EQ(error, 0) << "cannot isolate the mounts: " << std::strerror(error);
}

// A small tmpfs, unmounted when the test ends.
class Tmpfs {
  public:
    Tmpfs(fs::path path, std::string size) : path_(std::move(path)), size_(std::move(size)) {
        fs::create_directories(path_);
        const std::string options = "size=" + size_ + ",mode=0700";
        if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
            throw std::runtime_error("cannot mount a tmpfs on " + path_.string() + ": " +
                                     std::strerror(errno));
        }
    }
    ~Tmpfs() { ::umount2(path_.c_str(), MNT_DETACH); }
    Tmpfs(const Tmpfs&) = delete;
    Tmpfs& operator=(const Tmpfs&) = delete;

    const fs::path& path() const { return path_; }

    // The superblock itself (not a bind mount's flag): every mount namespace's copy of the
    // mount turns read-only. Retried briefly: a save in progress makes the kernel say EBUSY.
    void set_read_only(bool read_only) {
        const unsigned long flags = MS_REMOUNT | MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
        const std::string options = "size=" + size_;
        int error = 0;
        ASSERT_TRUE(eventually(
            [&] {
                error = ::mount(nullptr, path_.c_str(), nullptr, flags, options.c_str()) == 0
                            ? 0
                            : errno;
                return error == 0;
            },
            kDaemonBound))
            << "remount " << (read_only ? "ro" : "rw") << " failed: " << std::strerror(error);
    }

  private:
    fs::path path_;
    std::string size_;
};

// Writes a filler file until the tmpfs is full; returns its path.
fs::path fill(const fs::path& dir) {
    const fs::path filler = dir / "filler";
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    const std::string block(4096, 'x');
    int last_errno = 0;
    while (true) {
        if (::write(fd, block.data(), block.size()) < 0) {
            last_errno = errno;
            break;
        }
    }
    ::close(fd);
    EXPECT_EQ(last_errno, ENOSPC) << std::strerror(last_errno);
    return filler;
}

// A cache.save through the control socket: the error text, or empty on success.
std::string save_error(const Node& node) {
    const auto reply = node.call_raw("cache.save");
    if (reply.value("ok", false)) {
        return {};
    }
    const auto& error = reply.at("error");
    return error.is_string() ? error.get<std::string>() : error.dump();
}

std::set<std::string> keys_of(std::initializer_list<std::string> keys) {
    return std::set<std::string>(keys);
}

// A and B on one veth link ("<subnet>.1" and ".2"), each in the other's peers file, started
// and converged: each has the other's WireGuard entry.
void start_connected_pair(Node& a, Node& b, const std::string& subnet) {
    connect_veth(a.ns(), "ul-a", subnet + ".1/24", b.ns(), "ul-b", subnet + ".2/24");
    a.write_peers(json::array({b.as_peer(subnet + ".2")}));
    b.write_peers(json::array({a.as_peer(subnet + ".1")}));
    a.start();
    b.start();
    ASSERT_TRUE(eventually([&] { return a.wg_entry_allows(b, {b.mesh_ip() + "/32"}); }, kConverge))
        << a.log_text();
    ASSERT_TRUE(eventually([&] { return b.wg_entry_allows(a, {a.mesh_ip() + "/32"}); }, kConverge))
        << b.log_text();
}

TEST(FaultState, ReadOnlyStateDirFailsSavesClearlyAndTheDaemonKeepsReconciling) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    isolate_mounts();
    TempDir dir;
    Tmpfs state(dir.path() / "a-state", "1m");
    Node a("a", dir.path());
    Node b("b", dir.path());
    a.use_state_dir(state.path());
    ASSERT_NO_FATAL_FAILURE(start_connected_pair(a, b, "192.168.71"));
    ASSERT_EQ(save_error(a), "");
    const auto saved = netlink::read_file_if_exists(a.cache_file());
    ASSERT_TRUE(saved.has_value());
    EXPECT_EQ(cache_keys(a.cache_file()).keys, keys_of({b.pub()}));

    state.set_read_only(true);
    // The daemon's own mount namespace sees the read-only superblock: the kernel's EROFS.
    const std::string error = save_error(a);
    EXPECT_NE(error.find("cannot save the peer cache " + a.cache_file().string()),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("Read-only file system"), std::string::npos) << error;

    // Alive and reconciling: a peer added now reaches the WireGuard device.
    const std::string extra = wg::Key::generate_private().public_key().to_base64();
    ASSERT_TRUE(
        a.call("peer.add", {{"wg_pubkey", extra}, {"endpoint", "192.168.71.9:51820"}}).has_value())
        << a.log_text();
    EXPECT_TRUE(eventually([&] { return a.wg_allowed_ips().count(extra) == 1; }, kConverge))
        << a.log_text();
    EXPECT_TRUE(a.alive());
    ASSERT_TRUE(a.call("status").has_value());
    EXPECT_EQ(netlink::read_file_if_exists(a.cache_file()), saved) << "the old cache file changed";

    // A leftover temporary file that cannot be removed is named as the obstacle.
    state.set_read_only(false);
    { std::ofstream(a.cache_file().string() + ".tmp") << "{\"peers\": [tor"; }
    state.set_read_only(true);
    const std::string leftover_error = save_error(a);
    EXPECT_NE(leftover_error.find(a.cache_file().string() + ".tmp"), std::string::npos)
        << leftover_error;
    EXPECT_NE(leftover_error.find("Read-only file system"), std::string::npos) << leftover_error;
    EXPECT_EQ(netlink::read_file_if_exists(a.cache_file()), saved);

    // Writable again: the next save holds the current peers and replaces the leftover.
    state.set_read_only(false);
    EXPECT_EQ(save_error(a), "");
    EXPECT_EQ(cache_keys(a.cache_file()).keys, keys_of({b.pub(), extra}));
    EXPECT_FALSE(fs::exists(a.cache_file().string() + ".tmp"));
    EXPECT_EQ(stray_cache_files(a), std::vector<std::string>{});
    EXPECT_TRUE(a.alive());
}

TEST(FaultState, FullStateDirKeepsThePreviousCacheByteForByte) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    isolate_mounts();
    TempDir dir;
    Tmpfs state(dir.path() / "f-state", "512k");
    Node node("f", dir.path());
    node.use_state_dir(state.path());
    node.start();
    const auto keys = peer_sequence(4);
    for (std::size_t i = 0; i < 3; ++i) {
        ASSERT_TRUE(node.call("peer.add", {{"wg_pubkey", keys[i]}}).has_value());
    }
    ASSERT_EQ(save_error(node), "");
    const auto saved = netlink::read_file_if_exists(node.cache_file());
    ASSERT_TRUE(saved.has_value());

    // A change the full disk cannot take.
    ASSERT_TRUE(node.call("peer.add", {{"wg_pubkey", keys[3]}}).has_value());
    const fs::path filler = fill(state.path());
    const std::string error = save_error(node);
    EXPECT_NE(error.find("cannot save the peer cache " + node.cache_file().string()),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
    EXPECT_EQ(netlink::read_file_if_exists(node.cache_file()), saved)
        << "the previous cache was truncated";
    EXPECT_FALSE(fs::exists(node.cache_file().string() + ".tmp"))
        << "a failed save left its temporary file";
    EXPECT_EQ(stray_cache_files(node), std::vector<std::string>{});
    EXPECT_TRUE(node.alive());
    ASSERT_TRUE(node.call("status").has_value());

    fs::remove(filler);
    EXPECT_EQ(save_error(node), "");
    EXPECT_EQ(cache_keys(node.cache_file()).keys, std::set<std::string>(keys.begin(), keys.end()));
    EXPECT_FALSE(fs::exists(node.cache_file().string() + ".tmp"));
}

TEST(FaultState, StartsAndRunsWithAReadOnlyStateDir) {
    WGMESH_REQUIRE_DAEMON_SCENARIOS();
    isolate_mounts();
    TempDir dir;
    Tmpfs state(dir.path() / "r-state", "1m");
    Node a("r", dir.path());
    Node b("b", dir.path());
    a.use_state_dir(state.path());  // the node key is in place
    state.set_read_only(true);
    ASSERT_NO_FATAL_FAILURE(start_connected_pair(a, b, "192.168.72"));
    EXPECT_EQ(a.interface_v4(), std::set<std::string>{a.mesh_ip()});

    // What it cannot write is reported, naming the file and the kernel's text.
    const std::string error = save_error(a);
    EXPECT_NE(error.find(a.cache_file().string()), std::string::npos) << error;
    EXPECT_NE(error.find("Read-only file system"), std::string::npos) << error;
    const std::string log = a.log_text();
    EXPECT_NE(log.find("cannot record the interface state"), std::string::npos) << log;
    EXPECT_EQ(std::distance(fs::directory_iterator(state.path()), fs::directory_iterator()), 1)
        << "only the node key is there";

    // A stop still ends cleanly although its final save fails.
    const int status = a.stop_with(SIGTERM, kDaemonBound, SIGKILL);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << a.log_text();
    EXPECT_FALSE(fs::exists(a.cache_file()));
}

}  // namespace
}  // namespace wgmesh::test
