// Installs, removes and queries the wgmesh systemd service: the unit, the secret's env file,
// the state directory and the route protocol's name, then systemctl through the injected
// CommandExecutor.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "service/command_executor.h"
#include "service/join_options.h"

namespace wgmesh::service {

// kLive talks to the running service manager: daemon-reload, enable, start/restart, stop,
// disable, is-active. kOffline is for packaging and images (`--root DIR`): no manager is
// asked anything; only `systemctl --root=DIR enable|disable|is-enabled`, which edit and read
// the symlinks under DIR.
enum class ManagerMode { kLive, kOffline };

struct InstallResult {
    bool unit_changed = false;          // the unit file did not exist or had other content
    bool secret_changed = false;        // likewise for secret.env
    std::string start_verb;             // "start", "restart", or empty when not started
    std::vector<std::string> warnings;  // what the operator should fix (nothing was refused)
};

struct UninstallResult {
    bool unit_removed = false;
    bool secret_removed = false;
};

enum class ServiceState {
    kActive,
    kReloading,
    kInactive,
    kFailed,
    kActivating,
    kDeactivating,
    kUnknown,
};

// Maps the first line of `systemctl is-active` output; anything unexpected is kUnknown.
ServiceState parse_service_state(std::string_view is_active_output);
std::string_view to_string(ServiceState state);

struct ServiceStatus {
    ServiceState state = ServiceState::kUnknown;
    std::string state_text;    // what systemctl printed ("unknown" offline)
    std::string enabled_text;  // `systemctl is-enabled`: enabled, disabled, ... or not-found
    std::string problem;       // systemctl's stderr when it gave no state (no manager, ...)
    bool unit_installed = false;
    bool secret_installed = false;
};

class ServiceInstaller {
  public:
    static constexpr std::chrono::milliseconds kQuickTimeout{30'000};
    // start/restart wait for READY=1 (TimeoutStartSec= defaults to 90 s), stop for the
    // final cache save.
    static constexpr std::chrono::milliseconds kStartStopTimeout{120'000};

    // Files go under `root` ("/" for the live system).
    ServiceInstaller(CommandExecutor& executor, std::filesystem::path root, ManagerMode mode);

    // Writes <root>/etc/wgmesh/secret.env (0600, directory 0711), the unit (0644) and
    // <root>/etc/iproute2/rt_protos.d/wgmesh.conf (the state directory is systemd's to
    // create, for the service's user); warns when the service's user could not read the
    // peers file or run the binary or userspace program; then daemon-reload, enable and, with
    // `start`, start (restart when an installed unit or secret changed). If daemon-reload or
    // enable fails, the files written are put back as they were (removed when new) and the
    // error carries systemctl's stderr. A failing start leaves the installation in place.
    // Throws std::invalid_argument for bad options/secret, std::runtime_error otherwise.
    InstallResult install(const JoinOptions& options, std::string_view binary_path,
                          std::string_view secret, bool start);

    // stop, disable, removes the unit, secret.env (and its directory when empty) and the
    // rt_protos file, then daemon-reload. The state directory is kept. Nothing installed:
    // no systemctl call.
    UninstallResult uninstall();

    ServiceStatus status();

  private:
    enum class FileAccess { kRead, kExecute };
    // Why the service's unprivileged user could not read or execute `absolute` (under the
    // root), or nullopt when it can or the file does not exist yet.
    std::optional<std::string> out_of_service_reach(std::string_view absolute,
                                                    FileAccess access) const;
    std::filesystem::path under_root(std::string_view absolute) const;
    std::vector<std::string> systemctl(std::vector<std::string> args) const;
    CommandOutcome run_systemctl(std::vector<std::string> args, std::chrono::milliseconds timeout);
    void run_checked(std::vector<std::string> args, std::chrono::milliseconds timeout);

    CommandExecutor& executor_;
    std::filesystem::path root_;
    ManagerMode mode_;
};

}  // namespace wgmesh::service
