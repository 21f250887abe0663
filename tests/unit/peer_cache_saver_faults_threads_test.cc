// The periodic cache saver when its state dir cannot be written: every failed attempt is
// logged with the file's name and the kernel's text, the thread keeps going, and once the
// dir is writable again the next attempt saves the current peers (TSan: `threads` label).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mesh/peer_cache.h"

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

wg::Key key_n(int n) {
    std::array<std::uint8_t, 32> bytes{};
    bytes[0] = 3;
    bytes[1] = static_cast<std::uint8_t>(n);
    return wg::Key(bytes);
}

// Generous: a loaded 2-core machine under TSan can stall the saver thread for seconds;
// the saver's interval here is 2 ms, so only a hang takes this long.
bool wait_until(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

class SaverFaultTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/wgmesh-saver-fault-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    CacheLogFn log() {
        return [this](std::string_view line) {
            std::lock_guard lock(mutex_);
            lines_.emplace_back(line);
        };
    }

    fs::path dir_;
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

TEST_F(SaverFaultTest, KeepsTryingWhileTheDirIsUnwritableAndRecoversAfterwards) {
    PeerStore store;
    // Root ignores permission bits: a regular file in place of the state dir's parent makes
    // every save fail (ENOTDIR) the way a read-only or broken state dir would.
    const fs::path parent = dir_ / "var";
    { std::ofstream(parent) << "not a directory"; }
    PeerCache cache(parent / "wgmesh", "wg0", log());
    for (int i = 0; i < 3; ++i) {
        Peer p;
        p.wg_pubkey = key_n(i);
        ASSERT_TRUE(store.update(p, "control").accepted());
    }
    PeerCacheSaver saver(cache, store, 2ms, log());
    ASSERT_TRUE(wait_until([&] { return saver.failures() >= 3; }));
    EXPECT_EQ(saver.saves(), 0u);
    ASSERT_TRUE(saver.last_error().has_value());
    EXPECT_NE(saver.last_error()->find(cache.path().string()), std::string::npos)
        << *saver.last_error();
    EXPECT_NE(saver.last_error()->find("Not a directory"), std::string::npos)
        << *saver.last_error();
    const auto logged = lines();
    ASSERT_FALSE(logged.empty());
    EXPECT_NE(logged.front().find("cannot save the peer cache " + cache.path().string()),
              std::string::npos)
        << logged.front();
    EXPECT_NE(logged.front().find("Not a directory"), std::string::npos) << logged.front();

    // The dir becomes writable: the same thread saves again, with the store as it is now.
    fs::remove(parent);
    Peer late;
    late.wg_pubkey = key_n(9);
    ASSERT_TRUE(store.update(late, "control").accepted());
    ASSERT_TRUE(wait_until([&] { return saver.saves() >= 2; })) << "the saver thread gave up";
    // The file is replaced by rename, so reading it while the thread saves is safe; stop()
    // has not run, so the thread itself wrote the late peer.
    ASSERT_TRUE(wait_until([&] {
        const auto state = cache.read();
        return state.status == CacheFileState::Status::kOk && state.document.peers.size() == 4;
    })) << "the saver thread never saved the store as it is now";

    // The thread saves every 2 ms: its temp file exists while a save is in progress, so the
    // leftovers are checked once it is stopped (the final save must succeed too).
    EXPECT_TRUE(saver.stop());
    EXPECT_FALSE(saver.last_error().has_value());
    const auto state = cache.read();
    ASSERT_EQ(state.status, CacheFileState::Status::kOk);
    EXPECT_EQ(state.document.peers.size(), 4u);
    EXPECT_FALSE(fs::exists(cache.temp_path()));
}

TEST_F(SaverFaultTest, StopReportsAFailedFinalSave) {
    PeerStore store;
    const fs::path parent = dir_ / "blocker";
    { std::ofstream(parent) << "x"; }
    PeerCache cache(parent / "wgmesh", "wg0", log());
    PeerCacheSaver saver(cache, store, std::chrono::hours(1), log());
    EXPECT_FALSE(saver.stop());
    EXPECT_FALSE(saver.stop()) << "idempotent: the same answer again";
    EXPECT_EQ(saver.failures(), 1u);
    ASSERT_EQ(lines().size(), 1u);
    EXPECT_NE(lines().front().find("Not a directory"), std::string::npos) << lines().front();
}

}  // namespace
}  // namespace wgmesh::mesh
