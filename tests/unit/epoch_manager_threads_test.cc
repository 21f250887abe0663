// The epoch rotation thread (run under TSan through the `threads` label).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "mesh/epoch_manager.h"
#include "mesh/peer_store.h"

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;

wg::Key key_n(int n) {
    std::array<std::uint8_t, 32> bytes{};
    bytes[0] = 2;
    bytes[1] = static_cast<std::uint8_t>(n);
    return wg::Key(bytes);
}

EpochSeed seed() {
    EpochSeed s{};
    for (std::size_t i = 0; i < s.size(); ++i) {
        s[i] = static_cast<std::uint8_t>(i * 7);
    }
    return s;
}

std::vector<Peer> peers_0_to(int n) {
    std::vector<Peer> peers;
    for (int i = 0; i < n; ++i) {
        Peer p;
        p.wg_pubkey = key_n(i);
        peers.push_back(p);
    }
    return peers;
}

// Generous: a loaded 2-core machine under TSan can stall the rotation thread for seconds.
// Every interval waited on here is milliseconds or a first rotation that happens at once,
// so only a hang takes this long.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

TEST(EpochManagerThreads, FirstRotationHappensAtOnce) {
    const auto peers = peers_0_to(5);
    std::atomic<int> calls{0};
    // A one-hour interval: epoch 1 can only come from the immediate first rotation.
    EpochManager manager(
        seed(), key_n(0),
        [&] {
            ++calls;
            return peers;
        },
        std::chrono::hours(1));
    EXPECT_EQ(manager.current_epoch().id, 0u);
    manager.start();
    ASSERT_TRUE(eventually([&] { return manager.current_epoch().id == 1; }));
    const Epoch epoch = manager.GetRouter().epoch();
    const auto expected = select_relays(seed(), 1, peers, key_n(0));
    ASSERT_EQ(epoch.relays.size(), 2u);
    EXPECT_EQ(epoch.relays[0].wg_pubkey, expected[0].wg_pubkey);
    EXPECT_EQ(epoch.relays[1].wg_pubkey, expected[1].wg_pubkey);
    for (const Peer& relay : epoch.relays) {
        EXPECT_FALSE(relay.wg_pubkey == key_n(0)) << "self is never a relay";
    }
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(manager.current_epoch().id, 1u) << "no second rotation before the interval";
    EXPECT_EQ(calls.load(), 1);
    EXPECT_THROW(manager.start(), std::logic_error);
}

TEST(EpochManagerThreads, RotatesEveryIntervalWithFreshPeers) {
    PeerStore store;
    EpochManager manager(
        seed(), key_n(0), [&] { return store.active(); }, 5ms);
    manager.start();
    std::thread writer([&] {
        for (int i = 0; i < 50; ++i) {
            Peer p;
            p.wg_pubkey = key_n(i);
            ASSERT_TRUE(store.update(p, "dht").accepted());
            std::this_thread::sleep_for(1ms);
        }
    });
    std::thread announcer([&] {
        Announce a;
        a.origin_pubkey = key_n(99);
        for (int i = 0; i < 500; ++i) {
            a.hop_count = static_cast<std::uint8_t>(i % 6);
            auto decision = manager.router().route(a);
            if (decision.action == AnnounceAction::kStem) {
                ASSERT_TRUE(decision.relay);
            }
        }
    });
    writer.join();
    announcer.join();
    ASSERT_TRUE(eventually([&] { return manager.current_epoch().id >= 5; }));
    const Epoch epoch = manager.current_epoch();
    manager.stop();
    EXPECT_EQ(epoch.relays.size(), 2u);
    const std::uint64_t stopped_at = manager.current_epoch().id;
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(manager.current_epoch().id, stopped_at) << "no rotation after stop()";
}

TEST(EpochManagerThreads, StopIsPromptWithALongInterval) {
    EpochManager manager(
        seed(), key_n(0), [] { return peers_0_to(3); }, kEpochDuration);
    manager.start();
    ASSERT_TRUE(eventually([&] { return manager.current_epoch().id == 1; }));
    // The interval is 10 min: stopping within 30 s proves stop() does not wait it out,
    // while a loaded TSan run may take seconds to wake and join the thread.
    const auto start = std::chrono::steady_clock::now();
    manager.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
    manager.stop();  // idempotent
}

TEST(EpochManagerThreads, StopBeforeStartAndDestructorJoin) {
    {
        EpochManager never_started(seed(), key_n(0), [] { return peers_0_to(3); });
        never_started.stop();
    }
    {
        EpochManager running(
            seed(), key_n(0), [] { return peers_0_to(3); }, 1ms);
        running.start();
    }  // the destructor stops and joins
}

TEST(EpochManagerThreads, AThrowingPeerSourceKeepsRotating) {
    std::atomic<int> calls{0};
    EpochManager manager(
        seed(), key_n(0),
        [&]() -> std::vector<Peer> {
            if (++calls % 2 == 0) {
                throw std::runtime_error("store unavailable");
            }
            return peers_0_to(4);
        },
        2ms);
    manager.start();
    ASSERT_TRUE(eventually([&] { return manager.current_epoch().id >= 4; }));
    manager.stop();
}

}  // namespace
}  // namespace wgmesh::mesh
