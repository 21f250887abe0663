// The periodic cache saver: its thread, its prompt stop and its final save (run under
// TSan through the `threads` label).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mesh/peer_cache.h"

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// How long a wait for a few 2-5 ms saves may take before it counts as a hang: a loaded
// 2-core machine under TSan can stall the saver thread for seconds.
constexpr auto kHangBound = 60s;

wg::Key key_n(int n) {
    std::array<std::uint8_t, 32> bytes{};
    bytes[0] = 1;
    bytes[1] = static_cast<std::uint8_t>(n);
    bytes[2] = static_cast<std::uint8_t>(n >> 8);
    return wg::Key(bytes);
}

class SaverTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/wgmesh-saver-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(SaverTest, SavesPeriodicallyWhileTheStoreChanges) {
    PeerStore store;
    PeerCache cache(dir_, "wg0", [](std::string_view) {});
    PeerCacheSaver saver(cache, store, 5ms, [](std::string_view) {});
    std::thread writer([&] {
        for (int i = 0; i < 300; ++i) {
            Peer p;
            p.wg_pubkey = key_n(i);
            ASSERT_TRUE(store.update(p, "dht").accepted());
            if (i % 50 == 0) {
                std::this_thread::sleep_for(5ms);
            }
        }
    });
    std::thread manual([&] {
        for (int i = 0; i < 10; ++i) {
            cache.save(store);  // a control-socket "cache.save" racing the saver
        }
    });
    writer.join();
    manual.join();
    const auto deadline = std::chrono::steady_clock::now() + kHangBound;
    while (saver.saves() < 3 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    EXPECT_GE(saver.saves(), 3u);
    saver.stop();
    EXPECT_EQ(saver.failures(), 0u);
    auto state = cache.read();
    ASSERT_EQ(state.status, CacheFileState::Status::kOk);
    EXPECT_EQ(state.document.peers.size(), 300u);
}

TEST_F(SaverTest, StopIsPromptAndSavesOnceMore) {
    PeerStore store;
    PeerCache cache(dir_, "wg0", [](std::string_view) {});
    PeerCacheSaver saver(cache, store, std::chrono::hours(1), [](std::string_view) {});
    Peer p;
    p.wg_pubkey = key_n(7);
    ASSERT_TRUE(store.update(p, "control").accepted());
    EXPECT_FALSE(fs::exists(cache.path()));
    // The interval is 1 h: stopping within 30 s proves stop() does not wait it out, while
    // a loaded TSan run may take seconds to wake, join and save.
    const auto start = std::chrono::steady_clock::now();
    saver.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
    EXPECT_EQ(saver.saves(), 1u);
    auto state = cache.read();
    ASSERT_EQ(state.status, CacheFileState::Status::kOk);
    ASSERT_EQ(state.document.peers.size(), 1u);
    saver.stop();  // idempotent
    EXPECT_EQ(saver.saves(), 1u);
}

TEST_F(SaverTest, FailuresAreCountedAndLoggedNotFatal) {
    PeerStore store;
    // A regular file where the state directory should be: every save fails.
    const fs::path blocker = dir_ / "blocker";
    { std::ofstream(blocker) << "x"; }
    PeerCache cache(blocker / "state", "wg0", [](std::string_view) {});
    std::atomic<int> lines{0};
    PeerCacheSaver saver(cache, store, 2ms, [&](std::string_view) { ++lines; });
    const auto deadline = std::chrono::steady_clock::now() + kHangBound;
    while (saver.failures() < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    saver.stop();
    EXPECT_GE(saver.failures(), 3u);
    EXPECT_EQ(saver.saves(), 0u);
    EXPECT_EQ(lines.load(), static_cast<int>(saver.failures()));
}

}  // namespace
}  // namespace wgmesh::mesh
