// A process saving the peer cache in a loop is SIGKILLed at seeded random moments, hundreds
// of times: the file the product reads back is always exactly the version before the kill or
// the one being written, never torn and never missing once a save completed, and the state
// dir holds nothing but the cache and at most its fixed temporary file.
//
// Replay a failure with WGMESH_CRASH_SEED=<seed printed in the failure message>.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mesh/peer_cache.h"
#include "netlink/atomic_file.h"

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr int kVersions = 6;
constexpr int kMaxIterations = 400;
constexpr int kMinIterations = 100;
constexpr auto kBudget = 4s;

Clock::time_point at(std::int64_t unix_seconds) {
    return Clock::time_point(std::chrono::seconds(unix_seconds));
}

wg::Key key_n(int n) {
    std::array<std::uint8_t, 32> bytes{};
    bytes[0] = 7;
    bytes[1] = static_cast<std::uint8_t>(n);
    return wg::Key(bytes);
}

// Version k: k + 1 peers, distinct last_seen and updated_at, so any two versions (and any
// mix of two) differ.
std::vector<Peer> version(int k) {
    std::vector<Peer> peers;
    for (int i = 0; i <= k; ++i) {
        Peer p;
        p.wg_pubkey = key_n(i);
        p.hostname = "node-" + std::to_string(i) + "-of-" + std::to_string(k);
        p.mesh_ip = netlink::IpAddress::v4(10, 42, static_cast<std::uint8_t>(k),
                                           static_cast<std::uint8_t>(i + 1));
        p.last_seen = at(kNow - 1000 + k);
        peers.push_back(std::move(p));
    }
    return peers;
}

std::uint64_t seed_from_env_or_random() {
    if (const char* text = std::getenv("WGMESH_CRASH_SEED")) {
        return std::strtoull(text, nullptr, 10);
    }
    return std::random_device{}();
}

class PeerCacheCrashTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/wgmesh-cache-crash-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        for (int k = 0; k < kVersions; ++k) {
            bytes_.push_back(serialize_peer_cache(version(k), at(kNow + k)));
        }
    }
    void TearDown() override { fs::remove_all(dir_); }

    PeerCache cache() const {
        return PeerCache(dir_, "wg0", [](std::string_view) {});
    }

    // The version whose exact bytes the file holds, or -1.
    int version_of(const std::string& bytes) const {
        const auto it = std::find(bytes_.begin(), bytes_.end(), bytes);
        return it == bytes_.end() ? -1 : static_cast<int>(it - bytes_.begin());
    }

    // Runs in the forked child: only the save loop, then _exit (the gtest process has no
    // other threads here, and the child never returns into gtest). Reports each completed
    // save's version as one byte on `ack` (a one-byte write is atomic).
    [[noreturn]] void save_loop(int first, int ack) const {
        const PeerCache c = cache();
        for (int i = first;; ++i) {
            const int k = i % kVersions;
            try {
                c.save(version(k), at(kNow + k));
            } catch (...) {
                ::_exit(3);
            }
            const auto byte = static_cast<char>(k);
            if (::write(ack, &byte, 1) != 1) {
                ::_exit(4);
            }
        }
    }

    fs::path dir_;
    std::vector<std::string> bytes_;
};

TEST_F(PeerCacheCrashTest, KilledAtRandomPointsOfManySavesLeavesTheOldOrTheNewVersion) {
    const std::uint64_t seed = seed_from_env_or_random();
    SCOPED_TRACE("WGMESH_CRASH_SEED=" + std::to_string(seed));
    std::mt19937_64 random(seed);

    // Kill delays spread over a few saves' time on this machine and disk.
    const auto probe = cache();
    const auto probe_start = std::chrono::steady_clock::now();
    for (int k = 0; k < 5; ++k) {
        probe.save(version(k), at(kNow + k));
    }
    const auto one_save = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - probe_start) /
                          5;
    fs::remove(probe.path());
    const auto max_delay =
        std::clamp(one_save * 4, std::chrono::microseconds(300), std::chrono::microseconds(20'000));
    std::uniform_int_distribution<std::int64_t> delay_us(0, max_delay.count());
    std::uniform_int_distribution<int> start_version(0, kVersions - 1);

    const fs::path cache_path = probe.path();
    const std::set<std::string> allowed_names = {cache_path.filename().string(),
                                                 probe.temp_path().filename().string()};
    std::optional<int> on_disk;  // the version the file held before this iteration
    int iterations = 0;
    int new_version_seen = 0;
    int temp_left = 0;
    const auto deadline = std::chrono::steady_clock::now() + kBudget;
    while (iterations < kMaxIterations &&
           (iterations < kMinIterations || std::chrono::steady_clock::now() < deadline)) {
        SCOPED_TRACE("iteration " + std::to_string(iterations));
        int pipe_fds[2];
        ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
        const int first = start_version(random);
        const auto delay = std::chrono::microseconds(delay_us(random));
        const pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            ::close(pipe_fds[0]);
            save_loop(first, pipe_fds[1]);
        }
        ::close(pipe_fds[1]);
        std::this_thread::sleep_for(delay);
        ASSERT_EQ(::kill(child, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(::waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            << "the save loop stopped by itself (status " << status << ")";

        std::string acks;
        char buffer[4096];
        for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
            acks.append(buffer, static_cast<std::size_t>(n));
        }
        ::close(pipe_fds[0]);

        // Old: the last acknowledged version, or what the file held before the child ran.
        // New: the version the child was writing when it died.
        std::optional<int> old_version = on_disk;
        int new_version = first;
        if (!acks.empty()) {
            old_version = static_cast<int>(acks.back());
            new_version = (old_version.value() + 1) % kVersions;
        }
        const auto bytes = netlink::read_file_if_exists(cache_path);
        if (old_version) {
            ASSERT_TRUE(bytes.has_value()) << "cache file missing after a completed save";
        }
        if (bytes) {
            const int found = version_of(*bytes);
            ASSERT_NE(found, -1) << "torn cache file (" << bytes->size() << " bytes):\n" << *bytes;
            ASSERT_TRUE(found == new_version || (old_version && found == *old_version))
                << "file holds version " << found << ", expected old "
                << (old_version ? std::to_string(*old_version) : "none") << " or new "
                << new_version;
            new_version_seen += found == new_version ? 1 : 0;

            // The product's own parser and restore agree.
            const CacheDocument doc = parse_peer_cache(*bytes);
            ASSERT_FALSE(doc.error.has_value()) << *doc.error;
            EXPECT_EQ(doc.invalid, 0u);
            PeerStore store([] { return at(kNow); });
            const auto report = cache().restore(store, at(kNow));
            ASSERT_FALSE(report.moved_aside);
            ASSERT_EQ(report.restored, static_cast<std::size_t>(found + 1));
            on_disk = found;
        }
        for (const auto& entry : fs::directory_iterator(dir_)) {
            const auto name = entry.path().filename().string();
            ASSERT_TRUE(allowed_names.count(name)) << "unexpected file left behind: " << name;
            temp_left += name == probe.temp_path().filename().string() ? 1 : 0;
        }
        ++iterations;
    }
    RecordProperty("iterations", iterations);
    std::cout << "seed " << seed << ": " << iterations << " kills, max delay " << max_delay.count()
              << " us, file at the new version after " << new_version_seen
              << ", temporary file left by " << temp_left << "\n";
    EXPECT_GE(iterations, kMinIterations);

    // The next save replaces any leftover temporary file and leaves only the cache.
    const auto c = cache();
    c.save(version(2), at(kNow + 2));
    EXPECT_FALSE(fs::exists(c.temp_path()));
    EXPECT_EQ(netlink::read_file_if_exists(cache_path), bytes_[2]);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace wgmesh::mesh
