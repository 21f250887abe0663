// `wgmesh join`: parses the daemon's flags, reads the secret and starts the daemon
// (tools/wgmesh/daemon/). See docs/daemon.md.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "mesh/control_server.h"
#include "mesh/log.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/daemon/daemon.h"
#include "tools/wgmesh/daemon/plumbing.h"
#include "tools/wgmesh/join_flags.h"
#include "tools/wgmesh/secret_source.h"

namespace wgmesh::cli {
namespace {

using namespace std::chrono_literals;

// Below a page the socket holds no notification at all; above 1 GiB is a typo.
constexpr unsigned long kMinMonitorBuffer = 4096;
constexpr unsigned long kMaxMonitorBuffer = 1UL << 30;

std::vector<FlagSpec> join_specs() {
    auto specs = join_flag_specs();
    specs.push_back({"secret-file", "FILE", "read the mesh secret from FILE"});
    specs.push_back({"secret", "S",
                     "the mesh secret (visible in the process list: prefer WGMESH_SECRET or "
                     "--secret-file)"});
    specs.push_back(
        {"control-socket", "PATH", "control socket (default /run/wgmesh/<interface>.sock)"});
    specs.push_back({"reconcile-interval", "DURATION",
                     "time between reconcile cycles, e.g. 5s or 500ms (default 5s)"});
    specs.push_back({"resync-interval", "DURATION",
                     "time between full resyncs of the owned kernel state (default 60s)"});
    specs.push_back({"no-kernel-monitor", "",
                     "verify the owned kernel state every cycle instead of watching it"});
    specs.push_back({"kernel-monitor-buffer", "BYTES",
                     "the kernel monitor's receive buffer (default 4194304)"});
    specs.push_back({"no-peer-probe", "",
                     "never probe peers or mark them offline (the probe server still answers)"});
    return specs;
}

void print_usage(const std::vector<FlagSpec>& specs) {
    std::cout << "usage: wgmesh join --interface IF [flags]\n\n"
                 "Runs the mesh daemon for one WireGuard interface. The secret comes from the\n"
                 "environment variable WGMESH_SECRET, --secret-file or --secret.\n"
                 "SIGHUP reloads the peers file and reconciles; SIGTERM/SIGINT save the peer\n"
                 "cache and stop, leaving the interface, addresses and routes in place\n"
                 "(`wgmesh cleanup` removes them).\n\nflags:\n"
              << describe_flags(specs);
}

}  // namespace

int run_join(Args args) {
    const auto specs = join_specs();
    const Flags flags(args, specs);
    if (flags.help_requested()) {
        print_usage(specs);
        return 0;
    }
    if (!flags.positional().empty()) {
        throw UsageError("unexpected argument '" + flags.positional().front() + "'");
    }
    auto options = join_options_from_flags(flags);
    options.validate();
    const auto level = mesh::parse_log_level(options.log_level);
    if (!level) {
        throw UsageError("--log-level must be error, warn, info or debug");
    }
    mesh::set_log_level(*level);
    std::chrono::milliseconds interval = 5s;
    if (const auto text = flags.value("reconcile-interval")) {
        interval = parse_interval("reconcile-interval", *text);
    }
    std::chrono::milliseconds resync_interval = 60s;
    if (const auto text = flags.value("resync-interval")) {
        resync_interval = parse_interval("resync-interval", *text);
    }
    const auto monitor_buffer = static_cast<int>(
        flags.number("kernel-monitor-buffer", kMinMonitorBuffer, kMaxMonitorBuffer).value_or(0));
    std::filesystem::path socket = mesh::default_control_socket(options.interface);
    if (const auto path = flags.value("control-socket")) {
        if (path->empty() || path->front() != '/') {
            throw UsageError("--control-socket must be an absolute path");
        }
        socket = *path;
    }
    // Read, then wiped from the environment, before anything can be spawned.
    std::string secret =
        take_secret(flags, {}, [](const std::string& text) { mesh::log_warning(text); });
    // Then descriptors inherited from whoever started us go (a secret file may have been one,
    // `--secret-file <(...)`): libmnl opens its sockets without close-on-exec, and a parent's
    // netfilter socket among ours would hide that parent's nft changes from the kernel monitor.
    ::close_range(3, ~0U, 0);
    // One malloc arena for all threads: the control, health and probe threads allocate little
    // and rarely, and an arena each kept up to 6 MiB of freed memory resident (peak RSS at
    // 1000 peers / 10k routes: 26 MiB with per-thread arenas, 20 MiB without; see
    // docs/daemon.md). glibc only; elsewhere a no-op.
    ::mallopt(M_ARENA_MAX, 1);
    // Fixed thresholds turn off glibc's adaptive ones, which rise to the largest block freed
    // (a 10k-route batch, an nft transaction buffer) and then keep twice that at the top of
    // the heap. Blocks of 64 KiB and more are mapped and unmapped instead: after ten route
    // flushes and address removals at 10k routes the heap held 4.0 MiB resident, not 8.3.
    ::mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    ::mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    Daemon daemon({.options = std::move(options),
                   .secret = std::move(secret),
                   .control_socket = std::move(socket),
                   .reconcile_interval = interval,
                   .resync_interval = resync_interval,
                   .kernel_monitor = !flags.has("no-kernel-monitor"),
                   .peer_probe = !flags.has("no-peer-probe"),
                   .kernel_monitor_buffer = monitor_buffer});
    return daemon.run();
}

}  // namespace wgmesh::cli
