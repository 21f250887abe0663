// Finding, creating and removing WireGuard interfaces, and choosing the backend that drives
// them, the way wg(8) and wg-quick(8) do.
//
// Userspace implementation: started WITHOUT a shell (posix_spawnp, argv = {program, name})
// with an empty signal mask and default signal actions, whatever the caller blocked or
// ignored (a daemon recreating its interface mid-run), in its default background mode. wireguard-go
// then creates the TUN device and the UAPI socket, forks its daemon and the process we started
// exits; we wait for that exit and for the socket to answer (bounded). Background mode is
// deliberate: the interface outlives a wgmesh restart exactly like a kernel interface does, and the
// next start adopts it. remove_interface() deletes the link, which makes wireguard-go exit, and
// terminates the daemon (found through the socket's SO_PEERCRED) if it is still there.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "wg/device.h"
#include "wg/uapi_backend.h"

namespace wgmesh::wg {

enum class Backend { kKernel, kUserspace };

// `--wireguard-backend`: which implementation ensure_interface() creates or adopts.
//  - kAuto: like wg(8) and wg-quick(8): a link whose UAPI socket answers is userspace, a
//    "wireguard" link is the kernel's; a new interface is the kernel's unless the kernel has
//    no WireGuard, then the userspace program is started.
//  - kUserspace: the userspace program even when the kernel has WireGuard (wg-quick's
//    WG_QUICK_USERSPACE_IMPLEMENTATION); an existing link is adopted only if its UAPI socket
//    answers.
//  - kKernel: never starts a userspace program; an existing link must be a kernel WireGuard
//    link, and a kernel without WireGuard is an error.
enum class BackendChoice { kAuto, kKernel, kUserspace };

inline constexpr std::string_view kBackendChoiceNames = "auto, kernel or userspace";
// "auto", "kernel", "userspace"; nullopt for anything else.
std::optional<BackendChoice> parse_backend_choice(std::string_view text);
std::string_view backend_choice_name(BackendChoice choice);

struct DeviceOptions {
    BackendChoice backend = BackendChoice::kAuto;
    // Where userspace implementations put <iface>.sock (wireguard-go: /var/run/wireguard).
    std::string socket_directory = UapiDevice::kDefaultSocketDirectory;
    // `--userspace`: program name (looked up in PATH) or path.
    std::string userspace_program = "wireguard-go";
    // How long a started userspace implementation may take until its socket answers.
    std::chrono::milliseconds start_timeout{10000};
};

// Like wg(8): the UAPI backend when <socket_directory>/<name>.sock accepts a connection,
// else the kernel backend (which throws std::system_error ENOENT without the module).
// detect_backend() always detects; open_device() opens options.backend when it is not kAuto.
std::unique_ptr<WireGuardDevice> open_device(const std::string& name,
                                             const DeviceOptions& options = {});
Backend detect_backend(const std::string& name, const DeviceOptions& options = {});

struct EnsuredInterface {
    std::unique_ptr<WireGuardDevice> device;
    Backend backend = Backend::kKernel;
    bool created = false;  // false: an existing interface was adopted
};

// Makes sure the WireGuard interface `name` exists in the current network namespace and is
// up, and opens it (options.backend restricts each step to its backend):
//  - an existing kernel WireGuard link, or a link whose UAPI socket answers, is adopted;
//  - otherwise RTM_NEWLINK kind "wireguard" creates it;
//  - when the kernel has no WireGuard (EOPNOTSUPP), options.userspace_program is started.
// Throws std::system_error / std::runtime_error naming the interface: a link of that name that
// is not WireGuard or not of the chosen backend, a socket of that name owned by another
// namespace, a kernel without WireGuard when the kernel backend is chosen, a userspace program
// that is missing, fails or does not answer within options.start_timeout.
EnsuredInterface ensure_interface(const std::string& name, const DeviceOptions& options = {});

// Deletes the interface (kernel link or userspace TUN) and stops the userspace process
// serving it, if any, whatever options.backend says. Call it only for an interface you own:
// its socket file, when nobody listens on it any more (a killed wireguard-go), is unlinked
// like wg(8) does. Returns false when there was no link and no process to remove.
bool remove_interface(const std::string& name, const DeviceOptions& options = {});

}  // namespace wgmesh::wg
