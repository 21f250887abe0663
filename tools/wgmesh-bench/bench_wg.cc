// The wg group: configuring 1000 peers on a wireguard-go interface through wgmesh's apply()
// (one UAPI transaction), through `wg syncconf` with the same config file, and through one
// `wg set` process per peer (sampled, extrapolated), plus the no-change re-apply. The
// interface is created by wgmesh itself (ensure_interface) in the current namespace, which
// must be a private one (tools/bench wg), and removed afterwards.
//
// Peers have endpoints in the bench gateway subnet but no keepalive, so wireguard-go sends
// nothing to them (SPEC 11: unanswered keepalives make it slow and would skew the numbers).
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/wgmesh-bench/bench_support.h"
#include "tools/wgmesh-bench/benchmarks.h"
#include "wg/device_factory.h"
#include "wg/uapi_backend.h"

extern char** environ;

namespace wgmesh::bench {

namespace {

constexpr const char* kInterface = "wgmbw0";
constexpr std::size_t kSetSample = 100;

// A 0600 temporary file removed on destruction.
class TempFile {
  public:
    explicit TempFile(const std::string& content) {
        char path[] = "/tmp/wgmesh-bench-wg-XXXXXX";
        const int fd = mkstemp(path);
        if (fd < 0)
            throw std::runtime_error("cannot create a temporary file");
        close(fd);
        path_ = path;
        std::ofstream(path_) << content;
    }
    ~TempFile() { unlink(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// Removes the interface (and stops wireguard-go) however the benchmark ends: deleting the
// namespace would leave the daemon running.
struct InterfaceGuard {
    ~InterfaceGuard() {
        try {
            wg::remove_interface(kInterface);
        } catch (...) {
        }
    }
};

wg::DeviceConfig make_config(std::size_t peers, const wg::Key& psk) {
    wg::DeviceConfig config;
    config.private_key = wg::Key::generate_private();
    config.listen_port = 51820;
    for (std::size_t i = 0; i < peers; ++i) {
        wg::PeerConfig peer;
        peer.public_key = wg::Key::generate_private().public_key();
        peer.preshared_key = psk;
        const auto hi = static_cast<std::uint8_t>(i >> 8), lo = static_cast<std::uint8_t>(i);
        peer.endpoint = netlink::SocketAddress{netlink::IpAddress::v4(172, 30, 10 + hi, lo),
                                               static_cast<std::uint16_t>(51820)};
        peer.allowed_ips = {netlink::Prefix(netlink::IpAddress::v4(10, 200, hi, lo), 32),
                            *netlink::Prefix::parse("fd00:200::" + std::to_string(i) + "/128")};
        config.peers.push_back(peer);
    }
    return config;
}

std::string allowed_ips_text(const wg::PeerConfig& peer) {
    std::string text;
    for (const auto& prefix : peer.allowed_ips) {
        if (!text.empty()) {
            text += ',';
        }
        text += prefix.to_string();
    }
    return text;
}

std::string wg_config_file(const wg::DeviceConfig& config) {
    std::string text = "[Interface]\nPrivateKey = " + config.private_key->to_base64() +
                       "\nListenPort = " + std::to_string(*config.listen_port) + "\n";
    for (const auto& peer : config.peers) {
        text += "\n[Peer]\nPublicKey = " + peer.public_key.to_base64() +
                "\nPresharedKey = " + peer.preshared_key->to_base64() +
                "\nEndpoint = " + peer.endpoint->to_string() +
                "\nAllowedIPs = " + allowed_ips_text(peer) + "\n";
    }
    return text;
}

void expect_peers(wg::WireGuardDevice& device, std::size_t count, const std::string& after) {
    const std::size_t found = device.get().peers.size();
    if (found != count) {
        throw std::runtime_error("after " + after + " the device has " + std::to_string(found) +
                                 " peers instead of " + std::to_string(count));
    }
}

void reset(wg::WireGuardDevice& device, const wg::DeviceConfig& config) {
    wg::DeviceConfig empty;
    empty.private_key = config.private_key;
    empty.listen_port = config.listen_port;
    device.apply(empty);
    expect_peers(device, 0, "reset");
}

}  // namespace

void bench_wg(const BenchOptions& options, BenchReport& report) {
    require_private_namespace("wg");
    const std::size_t peers = options.quick ? 100 : 1000;
    const wg::Key psk = wg::Key::generate_private();
    const wg::DeviceConfig config = make_config(peers, psk);
    const TempFile config_file(wg_config_file(config));
    const TempFile psk_file(psk.to_base64() + "\n");

    InterfaceGuard guard;
    // wireguard-go on every kernel, so the figures compare like with like (and with the
    // other groups' daemons) whether or not the kernel has WireGuard.
    wg::DeviceOptions device_options;
    device_options.backend = wg::BackendChoice::kUserspace;
    wg::EnsuredInterface ensured = wg::ensure_interface(kInterface, device_options);
    wg::WireGuardDevice& device = *ensured.device;
    auto* uapi = dynamic_cast<wg::UapiDevice*>(&device);
    const std::string backend = uapi ? "wireguard-go" : "kernel";
    const std::string job = "wg: apply " + std::to_string(peers) + " new peers (" + backend + ")";
    const std::string nochange_job =
        "wg: re-apply " + std::to_string(peers) + " unchanged peers (" + backend + ")";

    // Warm-up, untimed: wireguard-go's first 1000 peers also grow its heap, which would
    // otherwise be charged to whichever method runs first.
    device.apply(config);
    reset(device, config);
    auto start = std::chrono::steady_clock::now();
    device.apply(config);
    const double apply_seconds = seconds_since(start);
    expect_peers(device, peers, "apply()");
    report.add(
        {job, "wgmesh apply()", apply_seconds, static_cast<double>(peers), false,
         uapi ? "one UAPI transaction, get() and diff included" : "get() and diff included"});

    const auto sent_before = uapi ? uapi->transactions_sent() : 0;
    start = std::chrono::steady_clock::now();
    device.apply(config);
    const double nochange_seconds = seconds_since(start);
    if (uapi && uapi->transactions_sent() != sent_before)
        throw std::runtime_error("re-applying an unchanged config sent a transaction");
    report.add({nochange_job, "wgmesh apply()", nochange_seconds, static_cast<double>(peers), false,
                "get() and diff; nothing sent"});

    start = std::chrono::steady_clock::now();
    run_or_throw({"wg", "syncconf", kInterface, config_file.path()});
    report.add({nochange_job, "wg syncconf", seconds_since(start), static_cast<double>(peers), true,
                "re-sends every peer of the file"});

    reset(device, config);
    start = std::chrono::steady_clock::now();
    run_or_throw({"wg", "syncconf", kInterface, config_file.path()});
    const double syncconf_seconds = seconds_since(start);
    expect_peers(device, peers, "wg syncconf");
    report.add({job, "wg syncconf", syncconf_seconds, static_cast<double>(peers), true,
                "same config as a wg(8) file"});

    reset(device, config);
    const std::size_t sample = std::min(peers, kSetSample);
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < sample; ++i) {
        const auto& peer = config.peers[i];
        run_or_throw({"wg", "set", kInterface, "peer", peer.public_key.to_base64(), "preshared-key",
                      psk_file.path(), "endpoint", peer.endpoint->to_string(), "allowed-ips",
                      allowed_ips_text(peer)});
    }
    const double sampled = seconds_since(start);
    expect_peers(device, sample, "wg set per peer");
    const double per_peer_seconds =
        sampled * static_cast<double>(peers) / static_cast<double>(sample);
    report.add({job, "wg set per peer", per_peer_seconds, static_cast<double>(peers), true,
                sample == peers ? "one process per peer"
                                : "one process per peer; " + std::to_string(sample) +
                                      " measured, extrapolated to " + std::to_string(peers)});
    reset(device, config);
}

}  // namespace wgmesh::bench
