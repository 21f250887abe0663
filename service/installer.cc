#include "service/installer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "netlink/atomic_file.h"
#include "service/secret_env.h"
#include "service/service_paths.h"
#include "service/unit_file.h"

namespace wgmesh::service {

namespace {

// /etc/wgmesh: root's, not listable, but the service's own user may reach a peers file kept
// there by name. secret.env itself is 0600 (read by the service manager, as root).
constexpr mode_t kSecretDirectory = 0711;
constexpr mode_t kSecretFileMode = 0600;
constexpr mode_t kPublicFileMode = 0644;
constexpr std::string_view kSystemdUnitDir = "/etc/systemd/system";
// `systemctl stop` of a unit the manager does not know: nothing to stop.
constexpr int kSystemctlUnitNotLoaded = 5;
constexpr std::size_t kMaxErrorTextBytes = 2000;

std::string trimmed(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) {
        return {};
    }
    std::string out(text.substr(first, text.find_last_not_of(kSpace) - first + 1));
    if (out.size() > kMaxErrorTextBytes) {
        out.resize(kMaxErrorTextBytes);
        out += "...";
    }
    return out;
}

std::string first_line(std::string_view text) {
    return trimmed(text.substr(0, text.find('\n')));
}

std::string command_text(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& arg : argv) {
        text += (text.empty() ? "" : " ") + arg;
    }
    return text;
}

bool path_exists(const std::filesystem::path& path) {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0;
}

// A file install wrote, with what it held before, so a failed install can put it back.
struct WrittenFile {
    std::filesystem::path path;
    std::optional<std::string> previous;
    mode_t mode;
};

// Puts every written file back; returns the problems instead of throwing, as it runs while
// another error is being reported.
std::string roll_back(const std::vector<WrittenFile>& written) {
    std::string problems;
    for (auto it = written.rbegin(); it != written.rend(); ++it) {
        try {
            if (it->previous) {
                netlink::write_file_atomically(it->path, *it->previous, {.mode = it->mode});
            } else {
                netlink::remove_file_if_exists(it->path);
            }
        } catch (const std::exception& e) {
            problems += std::string("; rollback: ") + e.what();
        }
    }
    return problems;
}

}  // namespace

ServiceState parse_service_state(std::string_view is_active_output) {
    const std::string state = first_line(is_active_output);
    if (state == "active") {
        return ServiceState::kActive;
    }
    if (state == "reloading") {
        return ServiceState::kReloading;
    }
    if (state == "inactive") {
        return ServiceState::kInactive;
    }
    if (state == "failed") {
        return ServiceState::kFailed;
    }
    if (state == "activating") {
        return ServiceState::kActivating;
    }
    if (state == "deactivating") {
        return ServiceState::kDeactivating;
    }
    return ServiceState::kUnknown;
}

std::string_view to_string(ServiceState state) {
    switch (state) {
        case ServiceState::kActive:
            return "active";
        case ServiceState::kReloading:
            return "reloading";
        case ServiceState::kInactive:
            return "inactive";
        case ServiceState::kFailed:
            return "failed";
        case ServiceState::kActivating:
            return "activating";
        case ServiceState::kDeactivating:
            return "deactivating";
        case ServiceState::kUnknown:
            break;
    }
    return "unknown";
}

ServiceInstaller::ServiceInstaller(CommandExecutor& executor, std::filesystem::path root,
                                   ManagerMode mode)
    : executor_(executor), root_(std::filesystem::absolute(root).lexically_normal()), mode_(mode) {}

std::filesystem::path ServiceInstaller::under_root(std::string_view absolute) const {
    return root_ / std::filesystem::path(absolute).relative_path();
}

std::vector<std::string> ServiceInstaller::systemctl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"systemctl"};
    if (mode_ == ManagerMode::kOffline) {
        argv.push_back("--root=" + root_.string());
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

CommandOutcome ServiceInstaller::run_systemctl(std::vector<std::string> args,
                                               std::chrono::milliseconds timeout) {
    const auto argv = systemctl(std::move(args));
    CommandOutcome outcome = executor_.run(argv, timeout);
    if (outcome.exit_code < 0) {
        throw std::runtime_error("cannot run '" + command_text(argv) +
                                 "': " + trimmed(outcome.err));
    }
    if (outcome.timed_out) {
        throw std::runtime_error("'" + command_text(argv) + "' did not finish within " +
                                 std::to_string(timeout.count() / 1000) + " s and was killed");
    }
    return outcome;
}

void ServiceInstaller::run_checked(std::vector<std::string> args,
                                   std::chrono::milliseconds timeout) {
    const auto argv = systemctl(args);
    const CommandOutcome outcome = run_systemctl(std::move(args), timeout);
    if (outcome.exit_code != 0) {
        const std::string err = trimmed(outcome.err);
        throw std::runtime_error("'" + command_text(argv) + "' failed (exit " +
                                 std::to_string(outcome.exit_code) + ")" +
                                 (err.empty() ? "" : ": " + err));
    }
}

std::optional<std::string> ServiceInstaller::out_of_service_reach(std::string_view absolute,
                                                                  FileAccess access) const {
    // The service's user is neither the owner (root) nor in the file's group, so only the
    // bits for others count: execute on every directory above the file, read or execute on
    // the file. An ACL could still grant access; this is a warning, not a refusal.
    std::filesystem::path partial = root_;
    const std::filesystem::path relative = std::filesystem::path(absolute).relative_path();
    for (auto it = relative.begin(); it != relative.end(); ++it) {
        partial /= *it;
        const bool is_file = std::next(it) == relative.end();
        struct stat st {};
        if (stat(partial.c_str(), &st) != 0) {
            return std::nullopt;  // missing: the daemon (or systemd) says so when it starts
        }
        mode_t needed = S_IXOTH;
        const char* verb = "enter ";
        if (is_file && access == FileAccess::kRead) {
            needed = S_IROTH;
            verb = "read ";
        } else if (is_file) {
            verb = "run ";
        } else if (partial == under_root(kSecretDir)) {
            needed = 0;  // install makes it traversable for others (kSecretDirectory)
        }
        if ((st.st_mode & needed) != needed) {
            char mode[8];
            std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
            std::string problem = "the service runs as its own unprivileged user, which cannot ";
            problem += verb;
            problem += '/';
            problem += partial.lexically_relative(root_).string();
            problem += " (mode ";
            problem += mode;
            problem += ')';
            return problem;
        }
    }
    return std::nullopt;
}

InstallResult ServiceInstaller::install(const JoinOptions& options, std::string_view binary_path,
                                        std::string_view secret, bool start) {
    // Everything is validated before the first byte is written.
    const std::string unit = generate_unit(options, binary_path);
    const std::string secret_env = format_secret_env(secret);
    const std::string protocol_name = std::to_string(options.route_protocol) + " wgmesh\n";

    InstallResult result;
    if (!options.peers_file.empty()) {
        if (auto problem = out_of_service_reach(options.peers_file, FileAccess::kRead)) {
            result.warnings.push_back("--peers-file " + options.peers_file + ": " + *problem +
                                      "; a peers file holds public keys and endpoints only: "
                                      "make it readable by others (chmod o+r, directories o+x)");
        }
    }
    const std::string_view userspace = options.userspace;
    for (const auto& [flag, program] :
         {std::pair<std::string_view, std::string_view>{"--binary", binary_path},
          {"--userspace", userspace}}) {
        if (program.find('/') == std::string_view::npos) {
            continue;  // found in the service's PATH
        }
        if (auto problem = out_of_service_reach(program, FileAccess::kExecute)) {
            std::string warning(flag);
            warning += " ";
            warning += program;
            warning += ": ";
            warning += *problem;
            warning += "; make it executable by others (chmod o+x)";
            result.warnings.push_back(std::move(warning));
        }
    }

    // The state directory is not created here: systemd creates it (StateDirectory=) for the
    // service's user when it starts, and takes over one an older install left to root.
    netlink::ensure_directory(under_root(kSecretDir), kSecretDirectory, true);
    netlink::make_directories(under_root(kSystemdUnitDir));
    netlink::make_directories(under_root(kRouteProtocolsFile).parent_path());

    const bool unit_existed = path_exists(under_root(kUnitFile));
    std::vector<WrittenFile> written;
    bool reloaded = false;  // the manager has seen the new unit
    // Always rewritten, so a loosened mode is tightened again; "changed" compares content.
    const auto put = [&written](const std::filesystem::path& path, std::string_view content,
                                mode_t mode) {
        auto previous = netlink::read_file_if_exists(path);
        const bool changed = previous != content;
        written.push_back({path, std::move(previous), mode});
        netlink::write_file_atomically(path, content, {.mode = mode});
        return changed;
    };
    try {
        result.secret_changed = put(under_root(kSecretEnvFile), secret_env, kSecretFileMode);
        result.unit_changed = put(under_root(kUnitFile), unit, kPublicFileMode);
        put(under_root(kRouteProtocolsFile), protocol_name, kPublicFileMode);
        if (mode_ == ManagerMode::kLive) {
            run_checked({"daemon-reload"}, kQuickTimeout);
            reloaded = true;
        }
        run_checked({"enable", std::string(kUnitName)}, kQuickTimeout);
    } catch (const std::exception& e) {
        std::string message = e.what() + roll_back(written);
        if (reloaded && result.unit_changed) {
            try {
                run_checked({"daemon-reload"}, kQuickTimeout);
            } catch (const std::exception& reload) {
                message += std::string("; ") + reload.what();
            }
        }
        throw std::runtime_error(message + "; nothing was installed (files restored)");
    }

    if (start && mode_ == ManagerMode::kLive) {
        result.start_verb =
            unit_existed && (result.unit_changed || result.secret_changed) ? "restart" : "start";
        try {
            run_checked({result.start_verb, std::string(kUnitName)}, kStartStopTimeout);
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string(e.what()) +
                                     "; the service is installed and enabled, see "
                                     "'journalctl -u wgmesh.service'");
        }
    }
    return result;
}

UninstallResult ServiceInstaller::uninstall() {
    UninstallResult result;
    if (path_exists(under_root(kUnitFile))) {
        if (mode_ == ManagerMode::kLive) {
            const std::vector<std::string> stop = {"stop", std::string(kUnitName)};
            const CommandOutcome outcome = run_systemctl(stop, kStartStopTimeout);
            if (outcome.exit_code != 0 && outcome.exit_code != kSystemctlUnitNotLoaded) {
                throw std::runtime_error("'" + command_text(systemctl(stop)) + "' failed (exit " +
                                         std::to_string(outcome.exit_code) +
                                         "): " + trimmed(outcome.err) + "; nothing was removed");
            }
        }
        run_checked({"disable", std::string(kUnitName)}, kQuickTimeout);
    }
    result.unit_removed = netlink::remove_file_if_exists(under_root(kUnitFile));
    result.secret_removed = netlink::remove_file_if_exists(under_root(kSecretEnvFile));
    netlink::remove_file_if_exists(under_root(kRouteProtocolsFile));
    // Kept when something else lives there; ENOTEMPTY and ENOENT are both fine.
    rmdir(under_root(kSecretDir).c_str());
    if (result.unit_removed && mode_ == ManagerMode::kLive) {
        run_checked({"daemon-reload"}, kQuickTimeout);
    }
    return result;
}

ServiceStatus ServiceInstaller::status() {
    ServiceStatus status;
    status.unit_installed = path_exists(under_root(kUnitFile));
    status.secret_installed = path_exists(under_root(kSecretEnvFile));
    if (mode_ == ManagerMode::kLive) {
        // is-active exits non-zero for every state but active: its output is the answer.
        const CommandOutcome active =
            run_systemctl({"is-active", std::string(kUnitName)}, kQuickTimeout);
        status.state_text = first_line(active.out);
        status.state = parse_service_state(status.state_text);
        if (status.state_text.empty()) {
            status.state_text = "unknown";
            status.problem = first_line(active.err);
        }
    } else {
        status.state_text = "unknown";
    }
    const CommandOutcome enabled =
        run_systemctl({"is-enabled", std::string(kUnitName)}, kQuickTimeout);
    status.enabled_text = first_line(enabled.out);
    if (status.enabled_text.empty()) {
        status.enabled_text = "not-found";
    }
    return status;
}

}  // namespace wgmesh::service
