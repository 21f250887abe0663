// The repair group (SPEC 14): how long the kernel lacks what a real `wgmesh join` daemon owns
// after someone else removes it — one route, every route (`ip route flush proto 150`), the
// mesh IPv4 address, our nft table, our tagged accept in a Docker-like `ip filter FORWARD`
// chain — with 1000 peers and 10k routes, through the kernel monitor's event path and,
// side by side, through the polling baseline (--no-kernel-monitor, the default 5 s cycle).
// Also the daemon's CPU over 60 s idle and its peak RSS, and (from the daemon group) the CPU
// of a no-change and of a full-resync reconcile cycle. The mesh address is timed twice: the
// address itself back, and everything back (the kernel drops every route through the
// interface with its last IPv4 address, silently: that repair is a flush's as well).
//
// Each fault is made in-process (rtnetlink, libnftables) so that no process start-up is in
// the figure: the clock starts when the deleting call returns, and stops when a cheap read of
// the kernel, repeated every millisecond, finds the state whole again. Faults of one kind are
// spaced so that fewer than 5 fall within 10 s: more would be a fight, which the daemon
// (rightly) backs off from. The daemon runs wireguard-go (--wireguard-backend userspace)
// on every kernel; its peers' endpoints are on loopback where nothing listens (SPEC 11).
#include <linux/rtnetlink.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mesh/control_server.h"
#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/nft_context.h"
#include "netlink/nft_forwarding_plan.h"
#include "netlink/nft_listing.h"
#include "netlink/route_table.h"
#include "netlink/socket.h"
#include "tools/wgmesh-bench/bench_support.h"
#include "tools/wgmesh-bench/benchmarks.h"

namespace wgmesh::bench {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kSecret = "wgmesh-bench-repair-secret-0123456789";
constexpr std::size_t kPeers = 1000;
constexpr std::size_t kNetworksPerPeer = 10;
constexpr int kRounds = 20;
// The baseline waits for its 5 s cycle: fewer rounds.
constexpr int kBaselineRounds = 5;
constexpr auto kPollInterval = 1ms;
// Between two faults: the route kind (one route, the flush, the address) is hit every other
// fault, at most twice within the 10 s fight window.
constexpr auto kQuiet = 3s;
constexpr auto kRepairBound = 60s;
// The polling baseline's cycle: the daemon's default --reconcile-interval.
constexpr int kBaselineCycleMs = 5000;
constexpr auto kConvergeBound = 180s;
constexpr auto kIdle = 60s;
constexpr std::uint32_t kMainTable = 254;
constexpr std::uint8_t kProtocol = 150;

// Network j of peer i: distinct /24s in 100.64.0.0/10, away from the 10.x mesh and from the
// bench gateway subnet.
netlink::Prefix peer_network(std::size_t i, std::size_t j) {
    const std::size_t n = i * kNetworksPerPeer + j;
    const auto address = netlink::IpAddress::v4(100, static_cast<std::uint8_t>(64 + (n >> 8)),
                                                static_cast<std::uint8_t>(n & 255), 0);
    return netlink::Prefix(address, 24);
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    // Nearest rank: with 20 samples p99 is the largest.
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::min(values.size(), std::max<std::size_t>(rank, 1)) - 1];
}

std::string milliseconds(double seconds) {
    std::ostringstream text;
    text.precision(1);
    text << std::fixed << seconds * 1000 << " ms";
    return text.str();
}

// A real daemon in this namespace with `peers` peers of kNetworksPerPeer networks each and a
// Docker-like FORWARD chain made before it starts; stopped, its interface and the chain
// removed on destruction.
class RepairDaemon {
  public:
    RepairDaemon(std::size_t peers, bool monitor, const std::string& interface)
        : interface_(interface), peers_(peers) {
        std::string pattern = (fs::temp_directory_path() / "wgmesh-bench-repair.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir_ = pattern;
        nlohmann::json list = nlohmann::json::array();
        for (std::size_t i = 1; i <= peers; ++i) {
            nlohmann::json networks = nlohmann::json::array();
            for (std::size_t j = 0; j < kNetworksPerPeer; ++j) {
                networks.push_back(peer_network(i, j).to_string());
            }
            // Loopback where nothing listens: handshakes are refused at once instead of
            // timing out, which keeps wireguard-go responsive (SPEC 11's note).
            list.push_back({{"wg_pubkey", bench_private_key(i).public_key().to_base64()},
                            {"endpoint", "127.0.0.1:" + std::to_string(20000 + i)},
                            {"routable_networks", networks}});
        }
        std::ofstream(dir_ / "peers.json") << list.dump();
        nft_.run(
            "add table ip filter\n"
            "add chain ip filter FORWARD { type filter hook forward priority 0; policy drop; }\n");
        std::vector<std::string> args = {
            "--interface", interface_, "--state-dir", dir_.string(), "--peers-file",
            (dir_ / "peers.json").string(), "--control-socket", (dir_ / "control.sock").string(),
            "--no-ipv6", "--log-level", "warn", "--wireguard-backend", "userspace",
            // The fake peers never handshake nor answer probes:
            // probed, they would all go offline and take their
            // routes with them. Peers of a healthy mesh are
            // vouched for by their handshakes and not probed.
            "--no-peer-probe"};
        if (!monitor) {
            args.push_back("--no-kernel-monitor");
        }
        pid_ = spawn_join(args, kSecret, dir_ / "daemon.log");
    }

    ~RepairDaemon() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
        try {
            netlink::NetlinkSocket socket(NETLINK_ROUTE);
            netlink::delete_link(socket, interface_);
            nft_.run("delete table ip filter\n");
        } catch (...) {
        }
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    RepairDaemon(const RepairDaemon&) = delete;
    RepairDaemon& operator=(const RepairDaemon&) = delete;

    pid_t pid() const { return pid_; }
    std::size_t routes_wanted() const { return peers_ * kNetworksPerPeer; }

    nlohmann::json status() const {
        const auto response =
            mesh::control_call(dir_ / "control.sock", {"status", nlohmann::json::object()}, 10s);
        return response.at("result");
    }

    // Waits until every peer is configured and the kernel state is whole; returns the time.
    double converge() {
        const auto start = Clock::now();
        while (Clock::now() - start < kConvergeBound) {
            int wait_status = 0;
            if (::waitpid(pid_, &wait_status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("the daemon exited early; log:\n" + log_tail());
            }
            try {
                const auto cycle = status().at("last_cycle");
                if (cycle.is_object() &&
                    cycle.value("configured_peers", std::size_t{0}) >= peers_ && whole()) {
                    address_ = mesh_address();
                    return seconds_since(start);
                }
            } catch (const std::exception&) {
                // not up yet
            }
            std::this_thread::sleep_for(200ms);
        }
        throw std::runtime_error("the daemon did not converge within 180 s; log:\n" + log_tail());
    }

    // The probes: cheap reads of the kernel, one per fault.
    bool route_present(const netlink::Prefix& destination) {
        // A FIB lookup of the network's first address, answered with the matching entry.
        std::array<std::uint8_t, 256> buffer{};
        auto* message = mnl_nlmsg_put_header(buffer.data());
        message->nlmsg_type = RTM_GETROUTE;
        message->nlmsg_flags = NLM_F_REQUEST;
        auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(message, sizeof(rtmsg)));
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = 32;
        rtm->rtm_flags = RTM_F_FIB_MATCH;
        mnl_attr_put(message, RTA_DST, 4, destination.address().data());
        // Looked up first: a request inside the callback would take this one's answer.
        const int index = ifindex();
        bool found = false;
        const auto status = socket_.request(*message, [&](const nlmsghdr& reply) {
            const auto route = netlink::parse_owned_route(reply, kMainTable, kProtocol, index);
            found = found || (route && route->destination == destination);
        });
        return status.ok() && found;
    }
    std::size_t owned_routes() { return routes_.dump_owned().size(); }
    bool address_present() {
        const auto addresses = netlink::list_addresses(socket_, ifindex());
        return std::find(addresses.begin(), addresses.end(), address_) != addresses.end();
    }
    bool own_table_whole() { return tagged_rules("list table inet " + table() + "\n") == 1; }
    bool forward_accept_present() { return tagged_rules("list chain ip filter FORWARD\n") == 1; }
    bool whole() {
        return owned_routes() == routes_wanted() && own_table_whole() && forward_accept_present() &&
               !mesh_address().address.is_unspecified();
    }

    // The faults, each made by one call that returns when the kernel has done it.
    void delete_route(std::size_t round) {
        auto routes = routes_.dump_owned();
        if (routes.empty()) {
            throw std::runtime_error("no owned route to delete");
        }
        deleted_ = routes[(round * 397) % routes.size()].destination;
        routes.erase(routes.begin() + static_cast<long>((round * 397) % routes.size()));
        if (routes_.sync(routes).removed != 1) {
            throw std::runtime_error("deleting one route did not remove one route");
        }
    }
    const netlink::Prefix& deleted_route() const { return deleted_; }
    void flush_routes() {
        if (routes_.flush().removed != routes_wanted()) {
            throw std::runtime_error("the flush did not remove every owned route");
        }
    }
    void delete_address() {
        if (!netlink::delete_address(socket_, ifindex(), address_)) {
            throw std::runtime_error("the mesh address was not there to delete");
        }
    }
    void delete_table() { nft_.run("delete table inet " + table() + "\n"); }
    void delete_forward_accept() {
        const auto listing = netlink::parse_nft_listing(nft_.run("list chain ip filter FORWARD\n"));
        for (const auto& rule : listing.rules) {
            if (rule.comment == netlink::forwarding_rule_comment(interface_)) {
                nft_.run("delete rule ip filter FORWARD handle " + std::to_string(rule.handle) +
                         "\n");
                return;
            }
        }
        throw std::runtime_error("no tagged accept to delete");
    }

    std::string log_tail() const {
        std::ifstream log(dir_ / "daemon.log");
        std::string text((std::istreambuf_iterator<char>(log)), {});
        return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
    }

  private:
    int ifindex() { return netlink::link_index(socket_, interface_); }
    std::string table() const { return netlink::forwarding_table_name(interface_); }
    std::size_t tagged_rules(const std::string& command) {
        std::string listing;
        try {
            listing = nft_.run(command);
        } catch (const std::exception&) {
            return 0;  // the table or chain is gone
        }
        const auto comment = netlink::forwarding_rule_comment(interface_);
        const auto parsed = netlink::parse_nft_listing(listing);
        return static_cast<std::size_t>(
            std::count_if(parsed.rules.begin(), parsed.rules.end(),
                          [&](const netlink::NftRule& rule) { return rule.comment == comment; }));
    }
    // The IPv4 address on the interface (the only one with --no-ipv6), or an unspecified one.
    netlink::InterfaceAddress mesh_address() {
        for (const auto& address : netlink::list_addresses(socket_, ifindex())) {
            if (address.address.is_v4()) {
                return address;
            }
        }
        return {};
    }

    std::string interface_;
    std::size_t peers_;
    fs::path dir_;
    pid_t pid_ = -1;
    netlink::NetlinkSocket socket_{NETLINK_ROUTE};
    netlink::KernelRouteTable routes_{interface_, kMainTable, kProtocol};
    netlink::NftContext nft_{netlink::NftContext::Output::kJson};
    netlink::InterfaceAddress address_;
    netlink::Prefix deleted_;
};

struct Fault {
    std::string name;
    std::function<void(RepairDaemon&, std::size_t round)> inject;
    std::function<bool(RepairDaemon&)> repaired;
    // Also timed, when set: the removed object itself back, before whatever the kernel
    // dropped with it.
    std::string part_name;
    std::function<bool(RepairDaemon&)> part_repaired;
};

std::vector<Fault> faults() {
    return {
        {"one route deleted", [](RepairDaemon& d, std::size_t r) { d.delete_route(r); },
         [](RepairDaemon& d) { return d.route_present(d.deleted_route()); }},
        {"our nft table deleted", [](RepairDaemon& d, std::size_t) { d.delete_table(); },
         [](RepairDaemon& d) { return d.own_table_whole(); }},
        {"ip route flush proto 150 (all routes)",
         [](RepairDaemon& d, std::size_t) { d.flush_routes(); },
         [](RepairDaemon& d) { return d.owned_routes() == d.routes_wanted(); }},
        {"tagged accept deleted from ip filter FORWARD",
         [](RepairDaemon& d, std::size_t) { d.delete_forward_accept(); },
         [](RepairDaemon& d) { return d.forward_accept_present(); }},
        // Whole again: the address and every route (the kernel drops what depended on it).
        {"mesh IPv4 address deleted", [](RepairDaemon& d, std::size_t) { d.delete_address(); },
         [](RepairDaemon& d) {
             return d.address_present() && d.owned_routes() == d.routes_wanted();
         },
         "the address itself back", [](RepairDaemon& d) { return d.address_present(); }},
    };
}

struct SideResult {
    std::vector<std::vector<double>> seconds;       // per fault, per round
    std::vector<std::vector<double>> part_seconds;  // per fault with a part, per round
    double idle_cpu = 0;
    long rss_kib = 0;
    double converge_seconds = 0;
    std::size_t fights = 0;
};

SideResult run_side(const BenchOptions& options, bool monitor, int rounds) {
    const std::size_t peers = options.quick ? 100 : kPeers;
    const std::string interface =
        std::string("wgmbr") + std::to_string(::getpid() % 100000) + (monitor ? "m" : "p");
    RepairDaemon daemon(peers, monitor, interface);
    SideResult result;
    result.converge_seconds = daemon.converge();

    const auto idle = options.quick ? 10s : kIdle;
    const double cpu_before = process_cpu_seconds(daemon.pid());
    std::this_thread::sleep_for(idle);
    result.idle_cpu = process_cpu_seconds(daemon.pid()) - cpu_before;

    const auto all = faults();
    result.seconds.resize(all.size());
    result.part_seconds.resize(all.size());
    // The baseline's faults land at a random point of its cycle: without this, a fault would
    // always come kQuiet after the repairing cycle, at the same phase.
    std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> phase_ms(0, monitor ? 0 : kBaselineCycleMs);
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t f = 0; f < all.size(); ++f) {
            std::this_thread::sleep_for(kQuiet + std::chrono::milliseconds(phase_ms(random)));
            all[f].inject(daemon, static_cast<std::size_t>(round));
            const auto start = Clock::now();
            bool part_back = !all[f].part_repaired;
            while (true) {
                if (!part_back && all[f].part_repaired(daemon)) {
                    part_back = true;
                    result.part_seconds[f].push_back(seconds_since(start));
                }
                if (part_back && all[f].repaired(daemon)) {
                    break;
                }
                if (Clock::now() - start > kRepairBound) {
                    throw std::runtime_error("'" + all[f].name + "' not repaired within 60 s (" +
                                             (monitor ? "kernel monitor" : "polling") +
                                             "); log:\n" + daemon.log_tail());
                }
                std::this_thread::sleep_for(kPollInterval);
            }
            result.seconds[f].push_back(seconds_since(start));
            // Untimed: everything is whole before the next fault.
            const auto settle = Clock::now();
            while (!daemon.whole()) {
                if (Clock::now() - settle > kRepairBound) {
                    throw std::runtime_error("not whole again after '" + all[f].name + "'");
                }
                std::this_thread::sleep_for(10ms);
            }
        }
    }
    result.fights = daemon.status().at("kernel").value("fights", nlohmann::json::array()).size();
    result.rss_kib = peak_rss_kib(daemon.pid());
    return result;
}

}  // namespace

void bench_repair(const BenchOptions& options, BenchReport& report) {
    require_private_namespace("repair");
    const std::size_t peers = options.quick ? 100 : kPeers;
    const int rounds = options.quick ? 5 : kRounds;
    const int baseline_rounds = options.quick ? 2 : kBaselineRounds;
    const std::string scale =
        std::to_string(peers) + " peers / " + std::to_string(peers * kNetworksPerPeer) + " routes";

    const auto events = run_side(options, true, rounds);
    const auto polling = run_side(options, false, baseline_rounds);

    const auto all = faults();
    for (std::size_t f = 0; f < all.size(); ++f) {
        const std::string job = "repair: " + all[f].name + ", " + scale;
        const auto& ours = events.seconds[f];
        const auto& base = polling.seconds[f];
        const bool flush = all[f].name.rfind("ip route flush", 0) == 0;
        const std::string target =
            flush ? "target: all back <= 500 ms" : "target: median <= 50 ms, p99 <= 250 ms";
        report.add({job, "kernel monitor, median", percentile(ours, 0.5), 1, false,
                    std::to_string(ours.size()) + " rounds; " + target});
        report.add({job, "kernel monitor, p99", percentile(ours, 0.99), 1, false,
                    "max " + milliseconds(*std::max_element(ours.begin(), ours.end()))});
        report.add({job, "polling 5 s cycle, median", percentile(base, 0.5), 1, true,
                    std::to_string(base.size()) + " rounds (--no-kernel-monitor)"});
        report.add({job, "polling 5 s cycle, p99", percentile(base, 0.99), 1, true,
                    std::to_string(base.size()) + " rounds"});
        if (!all[f].part_repaired) {
            continue;
        }
        const std::string part_job = "repair: " + all[f].name + ", " + all[f].part_name;
        const auto& ours_part = events.part_seconds[f];
        const auto& base_part = polling.part_seconds[f];
        report.add(
            {part_job, "kernel monitor, median", percentile(ours_part, 0.5), 1, false,
             std::to_string(ours_part.size()) + " rounds; target: median <= 50 ms, p99 <= 250 ms"});
        report.add({part_job, "kernel monitor, p99", percentile(ours_part, 0.99), 1, false,
                    "max " + milliseconds(*std::max_element(ours_part.begin(), ours_part.end()))});
        report.add({part_job, "polling 5 s cycle, median", percentile(base_part, 0.5), 1, true,
                    std::to_string(base_part.size()) + " rounds (--no-kernel-monitor)"});
        report.add({part_job, "polling 5 s cycle, p99", percentile(base_part, 0.99), 1, true,
                    std::to_string(base_part.size()) + " rounds"});
    }

    const std::string idle_job = "repair: daemon CPU over " +
                                 std::to_string((options.quick ? 10s : kIdle).count()) +
                                 " s idle, " + scale;
    report.add({idle_job, "kernel monitor", events.idle_cpu, 1, false,
                "CPU s (utime+stime of the daemon only); target <= 0.5 s per 60 s"});
    report.add({idle_job, "polling 5 s cycle", polling.idle_cpu, 1, true,
                "CPU s (utime+stime of the daemon only)"});
    const std::string rss_job = "repair: daemon peak RSS (VmHWM), " + scale;
    const auto mib = [](long kib) {
        std::ostringstream text;
        text.precision(1);
        text << std::fixed << static_cast<double>(kib) / 1024.0 << " MiB";
        return text.str();
    };
    // The "seconds" column holds MiB here; the note says so.
    report.add({rss_job, "kernel monitor", static_cast<double>(events.rss_kib) / 1024.0, 1, false,
                mib(events.rss_kib) + " (value column in MiB); target <= 16 MiB; converged in " +
                    milliseconds(events.converge_seconds) +
                    (events.fights > 0 ? "; FIGHTS reported: repairs were backed off" : "")});
    report.add({rss_job, "polling 5 s cycle", static_cast<double>(polling.rss_kib) / 1024.0, 1,
                true,
                mib(polling.rss_kib) + " (value column in MiB); converged in " +
                    milliseconds(polling.converge_seconds)});
    bench_reconcile_cycle(options, report);
}

}  // namespace wgmesh::bench
