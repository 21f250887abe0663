// Concurrency of the peer store: writers, readers, sweeps and subscribers at once (run
// under TSan through the `threads` label).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "mesh/peer_store.h"

namespace wgmesh::mesh {
namespace {

using namespace std::chrono_literals;

wg::Key key_of(int writer, int i) {
    std::array<std::uint8_t, 32> bytes{};
    bytes[0] = static_cast<std::uint8_t>(writer + 1);
    bytes[1] = static_cast<std::uint8_t>(i);
    bytes[2] = static_cast<std::uint8_t>(i >> 8);
    return wg::Key(bytes);
}

TEST(PeerStoreThreads, ConcurrentWritersReadersSweepsAndSubscribers) {
    PeerStore store;
    constexpr int kWriters = 4;
    constexpr int kPeersPerWriter = 200;
    constexpr int kRounds = 5;
    std::atomic<bool> done{false};

    auto fast = store.subscribe(100000);
    auto slow = store.subscribe(4);  // never drained during the run: must not block writers
    std::atomic<std::size_t> fast_events{0};
    std::thread consumer([&] {
        for (;;) {
            // Read `done` first: once it is set every event is queued, so an empty pop
            // after it means the queue is drained.
            const bool finished = done.load();
            if (fast->pop_for(1ms)) {
                ++fast_events;
            } else if (finished) {
                break;  // writers finished and the queue is drained
            }
        }
    });
    std::thread reader([&] {
        while (!done.load()) {
            (void)store.all();
            (void)store.active();
            (void)store.usable();
            (void)store.size();
            (void)store.get(key_of(0, 1));
        }
    });
    std::thread sweeper([&] {
        while (!done.load()) {
            (void)store.remove_stale();
            auto transient = store.subscribe(1);  // subscribe/unsubscribe churn
        }
    });

    std::vector<std::thread> writers;
    const char* methods[] = {"dht", "gossip", "lan", "gossip-transitive", "cache"};
    for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
            for (int round = 0; round < kRounds; ++round) {
                for (int i = 0; i < kPeersPerWriter; ++i) {
                    Peer p;
                    p.wg_pubkey = key_of(w, i);
                    p.mesh_ip = netlink::IpAddress::v4(10, 42, static_cast<std::uint8_t>(w),
                                                       static_cast<std::uint8_t>(i));
                    p.endpoint = netlink::SocketAddress{
                        netlink::IpAddress::v4(192, 0, 2, static_cast<std::uint8_t>(i)),
                        static_cast<std::uint16_t>(1000 + round)};
                    ASSERT_TRUE(store.update(p, methods[(i + round) % 5]).accepted());
                }
                if (round == kRounds - 1) {
                    for (int i = 0; i < kPeersPerWriter; i += 10) {
                        store.remove(key_of(w, i));
                    }
                }
            }
        });
    }
    for (auto& t : writers) {
        t.join();
    }
    done = true;
    consumer.join();
    reader.join();
    sweeper.join();

    EXPECT_EQ(store.size(), static_cast<std::size_t>(kWriters * (kPeersPerWriter - 20)));
    // new + updates + removals, all delivered to the roomy queue.
    const std::size_t expected = kWriters * (kPeersPerWriter * kRounds + 20);
    EXPECT_EQ(fast_events.load(), expected);
    EXPECT_FALSE(fast->take_overflow());
    EXPECT_TRUE(slow->take_overflow());
}

TEST(PeerStoreThreads, CapHoldsUnderConcurrentInserts) {
    PeerStore store(&Clock::now, 100);
    std::atomic<int> added{0};
    std::atomic<int> full{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
        writers.emplace_back([&, w] {
            for (int i = 0; i < 100; ++i) {
                Peer p;
                p.wg_pubkey = key_of(w, i);
                auto outcome = store.update(p, "dht");
                (outcome.result == UpdateResult::kAdded ? added : full)++;
            }
        });
    }
    for (auto& t : writers) {
        t.join();
    }
    EXPECT_EQ(added.load(), 100);
    EXPECT_EQ(full.load(), 300);
    EXPECT_EQ(store.size(), 100u);
}

}  // namespace
}  // namespace wgmesh::mesh
