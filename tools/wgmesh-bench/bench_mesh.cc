// The mesh group: peer cache save and restore of 1000 peers, the collision scan of 1000
// peers, and peer store update throughput, each next to a plain baseline that does less
// (so the ratio shows what durability, validation and locking cost, not a flattering win).
#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh/collisions.h"
#include "mesh/mesh_address.h"
#include "mesh/peer_cache.h"
#include "mesh/peer_store.h"
#include "tools/wgmesh-bench/benchmarks.h"

namespace wgmesh::bench {

namespace {

namespace fs = std::filesystem;
using mesh::Clock;
using mesh::Peer;

constexpr std::size_t kPeers = 1000;

// Median wall time of `reps` runs of `fn`.
double median_seconds(int reps, const std::function<void()>& fn) {
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
        const auto start = std::chrono::steady_clock::now();
        fn();
        times.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

wg::Key bench_key(std::size_t i) {
    std::array<std::uint8_t, 32> bytes{};
    std::uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
    for (auto& b : bytes) {
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        b = static_cast<std::uint8_t>(x >> 56);
    }
    return wg::Key(bytes);
}

// Realistic peers: mesh IPs derived as the daemon derives them (so a 1000-peer mesh has
// the few birthday collisions a real /16 mesh has), endpoints, a hostname, some networks.
std::vector<Peer> make_peers(std::size_t count) {
    const std::array<std::uint8_t, 2> subnet{42, 7};
    const std::string secret = "wgmesh-benchmark-secret-0123456789";
    const auto now = Clock::now();
    std::vector<Peer> peers;
    for (std::size_t i = 0; i < count; ++i) {
        Peer p;
        p.wg_pubkey = bench_key(i);
        p.hostname = "node-" + std::to_string(i);
        p.mesh_ip = mesh::derive_mesh_ip(subnet, p.wg_pubkey.to_base64(), secret);
        p.mesh_ipv6 = netlink::IpAddress::parse("fd42:7::" + std::to_string(i % 9000 + 1));
        p.endpoint = netlink::SocketAddress{
            netlink::IpAddress::v4(198, 51, static_cast<std::uint8_t>(i >> 8),
                                   static_cast<std::uint8_t>(i)),
            51820};
        if (i % 4 == 0) {
            p.routable_networks = {netlink::Prefix(
                netlink::IpAddress::v4(172, 16, static_cast<std::uint8_t>(i % 256), 0), 24)};
        }
        p.last_seen = now - std::chrono::seconds(i % 600);
        peers.push_back(std::move(p));
    }
    return peers;
}

std::string filesystem_name(const fs::path& dir) {
    struct statfs st {};
    if (::statfs(dir.c_str(), &st) != 0) {
        return "unknown fs";
    }
    switch (static_cast<unsigned long>(st.f_type)) {
        case 0x01021994:
            return "tmpfs";
        case 0xEF53:
            return "ext4";
        case 0x794c7630:
            return "overlayfs";
        case 0x58465342:
            return "xfs";
        case 0x9123683E:
            return "btrfs";
        default:
            return "fs 0x" + [](unsigned long v) {
                char text[20];
                std::snprintf(text, sizeof text, "%lx", v);
                return std::string(text);
            }(static_cast<unsigned long>(st.f_type));
    }
}

struct TempDir {
    fs::path path;
    TempDir() {
        // Under /var/tmp, not /tmp: /tmp is often tmpfs, where fsync is free and the
        // durable save would look better than it is on a real state dir.
        std::string pattern = "/var/tmp/wgmesh-bench-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            pattern = "/tmp/wgmesh-bench-XXXXXX";
            if (::mkdtemp(pattern.data()) == nullptr) {
                throw std::runtime_error("cannot create a temporary directory");
            }
        }
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void bench_cache(const BenchOptions& options, BenchReport& report) {
    const int reps = options.quick ? 3 : 15;
    const auto peers = make_peers(kPeers);
    TempDir dir;
    const std::string where = filesystem_name(dir.path) + ", median of " + std::to_string(reps);
    mesh::PeerCache cache(dir.path / "state", "wgb0", [](std::string_view) {});
    const std::string job_save = "mesh: cache save of " + std::to_string(kPeers) + " peers";

    const double durable = median_seconds(reps, [&] { cache.save(peers, Clock::now()); });
    report.add({job_save, "wgmesh (atomic: temp+fsync+rename+dir fsync)", durable, double(kPeers),
                false, where + "; " + std::to_string(fs::file_size(cache.path())) + " bytes"});

    const fs::path plain = dir.path / "plain.json";
    const double unsafe = median_seconds(reps, [&] {
        std::ofstream out(plain, std::ios::trunc);
        out << mesh::serialize_peer_cache(peers, Clock::now());
    });
    report.add({job_save, "same JSON, plain write, no fsync", unsafe, double(kPeers), true,
                "not crash-safe: a torn file is possible"});
    const double serialize_only =
        median_seconds(reps, [&] { (void)mesh::serialize_peer_cache(peers, Clock::now()).size(); });
    report.add({job_save, "serialise only (no I/O)", serialize_only, double(kPeers), true,
                "the JSON share of the save"});

    const std::string job_restore = "mesh: cache restore of " + std::to_string(kPeers) + " peers";
    std::size_t restored = 0;
    const double restore = median_seconds(reps, [&] {
        mesh::PeerStore store;
        restored = cache.restore(store).restored;
    });
    if (restored != kPeers) {
        throw std::runtime_error("cache restore benchmark restored " + std::to_string(restored) +
                                 " of " + std::to_string(kPeers) + " peers");
    }
    report.add({job_restore, "wgmesh (read, validate, insert into store)", restore, double(kPeers),
                false, where});
    const double parse_only = median_seconds(reps, [&] {
        std::ifstream in(cache.path());
        const auto doc = nlohmann::json::parse(in);
        if (doc["peers"].size() != kPeers) {
            throw std::runtime_error("plain parse read the wrong cache");
        }
    });
    report.add({job_restore, "nlohmann::json::parse only", parse_only, double(kPeers), true,
                "no validation, no store"});
}

void bench_collisions(const BenchOptions& options, BenchReport& report) {
    const int reps = options.quick ? 5 : 51;
    const auto peers = make_peers(kPeers);
    const std::string job = "mesh: collision scan of " + std::to_string(kPeers) + " peers";
    std::size_t found = 0;
    const double scan = median_seconds(reps, [&] {
        const auto claims = mesh::mesh_ip_claims(peers);
        found = mesh::find_collisions(claims).size();
    });
    // The naive way: compare every pair of peers.
    std::size_t naive_found = 0;
    const double naive = median_seconds(reps, [&] {
        std::map<netlink::IpAddress, int> seen;
        for (std::size_t i = 0; i < peers.size(); ++i) {
            for (std::size_t j = i + 1; j < peers.size(); ++j) {
                if (peers[i].mesh_ip == peers[j].mesh_ip) {
                    seen[*peers[i].mesh_ip] = 1;
                }
            }
        }
        naive_found = seen.size();
    });
    if (found != naive_found) {
        throw std::runtime_error("collision scan disagrees with the pairwise check");
    }
    report.add({job, "wgmesh find_collisions (sorted claims)", scan, double(kPeers), false,
                std::to_string(found) + " collisions among derived 10.42.x.y addresses"});
    report.add({job, "pairwise comparison", naive, double(kPeers), true, "O(n^2)"});
}

void bench_store(const BenchOptions& options, BenchReport& report) {
    const std::size_t updates = options.quick ? 20000 : 200000;
    const auto peers = make_peers(kPeers);
    const char* methods[] = {"dht", "gossip", "lan", "gossip-transitive"};
    const std::string job = "mesh: peer store, " + std::to_string(updates) + " updates of " +
                            std::to_string(kPeers) + " peers";
    const double store_time = median_seconds(3, [&] {
        mesh::PeerStore store;
        auto subscription = store.subscribe(1024);
        for (std::size_t i = 0; i < updates; ++i) {
            if (!store.update(peers[i % kPeers], methods[i % 4]).accepted()) {
                throw std::runtime_error("store rejected a benchmark peer");
            }
        }
    });
    report.add({job, "wgmesh PeerStore::update", store_time, double(updates), false,
                "validation, merge rules, mutex, one subscriber"});
    const double map_time = median_seconds(3, [&] {
        std::unordered_map<wg::Key, Peer> map;
        for (std::size_t i = 0; i < updates; ++i) {
            map[peers[i % kPeers].wg_pubkey] = peers[i % kPeers];
        }
        if (map.size() != kPeers) {
            throw std::runtime_error("map benchmark lost peers");
        }
    });
    report.add({job, "unordered_map assignment", map_time, double(updates), true,
                "no validation, no merge, no lock"});
}

}  // namespace

void bench_mesh(const BenchOptions& options, BenchReport& report) {
    bench_cache(options, report);
    bench_collisions(options, report);
    bench_store(options, report);
}

}  // namespace wgmesh::bench
