#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "service/installer.h"
#include "service/process_executor.h"
#include "service/service_paths.h"
#include "service/unit_file.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/flags.h"
#include "tools/wgmesh/join_flags.h"
#include "tools/wgmesh/secret_source.h"

namespace wgmesh::cli {

namespace {

// `wgmesh service status` exits like `systemctl is-active`: 0 active, 3 otherwise.
constexpr int kExitNotActive = 3;

constexpr const char* kUsage =
    "Usage: wgmesh service unit [JOIN FLAGS] [--binary PATH]\n"
    "       wgmesh service unit --template [--binary PATH]\n"
    "       wgmesh service install [JOIN FLAGS] [--binary PATH] [--secret-file FILE]\n"
    "                              [--root DIR] [--no-start]\n"
    "       wgmesh service uninstall [--root DIR]\n"
    "       wgmesh service status [--root DIR]\n"
    "\n"
    "unit prints the hardened systemd unit that runs 'wgmesh join' with the given flags;\n"
    "with --template, the template unit wgmesh@.service the Debian package ships: the\n"
    "instance is the interface, /etc/wgmesh/<interface>.env holds WGMESH_SECRET=... and\n"
    "optional WGMESH_ARGS=... (more join flags), with the same sandbox.\n"
    "install writes it to /etc/systemd/system/wgmesh.service, the secret (from\n"
    "--secret-file, else $WGMESH_SECRET, else stdin) to /etc/wgmesh/secret.env (0600),\n"
    "names route protocol N 'wgmesh' in /etc/iproute2/rt_protos.d/wgmesh.conf, then runs\n"
    "systemctl daemon-reload, enable and start (restart when the unit or secret changed).\n"
    "The service runs as its own user 'wgmesh' with CAP_NET_ADMIN only; systemd creates\n"
    "its state directory (--state-dir, under /var/lib) for it. uninstall stops, disables\n"
    "and removes the unit and the secret; the state directory is kept. status shows\n"
    "'systemctl is-active' and exits 0 when active, 3 otherwise.\n"
    "\n"
    "ExecStart= runs the binary given by --binary, by default this very binary (its\n"
    "resolved path), or /usr/local/bin/wgmesh with --root.\n"
    "--root DIR writes under DIR for packaging and images: systemctl is only asked to\n"
    "enable/disable there (systemctl --root=DIR), nothing is started or stopped.\n";

std::vector<FlagSpec> service_flag_specs(std::string_view subcommand) {
    std::vector<FlagSpec> specs;
    if (subcommand == "unit" || subcommand == "install") {
        specs = join_flag_specs();
        specs.push_back({"binary", "PATH", "program for ExecStart= (see below)"});
    }
    if (subcommand == "unit") {
        specs.push_back({"template", "", "print the template unit wgmesh@.service"});
    }
    if (subcommand == "install") {
        specs.push_back({"secret-file", "FILE", "read the mesh secret from FILE"});
        specs.push_back({"no-start", "", "install and enable, but do not start"});
    }
    if (subcommand != "unit") {
        specs.push_back({"root", "DIR", "operate on the tree under DIR (packaging)"});
    }
    return specs;
}

std::string binary_path(const Flags& flags) {
    if (const auto binary = flags.value("binary")) {
        return *binary;
    }
    if (flags.has("root")) {
        return std::string(service::kDefaultBinary);
    }
    // The unit then starts the very program that wrote it.
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string(service::kDefaultBinary) : self.string();
}

std::filesystem::path root_of(const Flags& flags) {
    const auto root = flags.value("root");
    if (!root) {
        return "/";
    }
    std::error_code ec;
    if (root->empty() || !std::filesystem::is_directory(*root, ec)) {
        throw UsageError("--root '" + *root + "' is not an existing directory");
    }
    return *root;
}

service::ManagerMode mode_of(const Flags& flags) {
    return flags.has("root") ? service::ManagerMode::kOffline : service::ManagerMode::kLive;
}

// The template takes its join flags from WGMESH_ARGS at run time, not from this command line.
int run_template_unit(const Flags& flags, std::span<const FlagSpec> specs) {
    for (const auto& spec : specs) {
        if (spec.name != "template" && spec.name != "binary" && flags.has(spec.name)) {
            throw UsageError("--template takes no --" + spec.name +
                             ": join flags go in WGMESH_ARGS= in /etc/wgmesh/<interface>.env");
        }
    }
    try {
        std::cout << service::generate_template_unit(binary_path(flags));
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    return 0;
}

int run_unit(const Flags& flags) {
    const auto options = join_options_from_flags(flags);
    try {
        std::cout << service::generate_unit(options, binary_path(flags));
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    return 0;
}

int run_install(const Flags& flags) {
    const auto options = join_options_from_flags(flags);
    const std::string binary = binary_path(flags);
    try {
        service::generate_unit(options, binary);  // every check, before the secret is read
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    if (!flags.has("root") && access(binary.c_str(), X_OK) != 0) {
        throw UsageError("--binary '" + binary + "' is not an executable file");
    }
    const std::string secret = take_secret(
        flags, {.standard_input = true},
        [](const std::string& text) { std::cerr << "wgmesh service: warning: " << text << "\n"; });
    service::ProcessExecutor executor;
    service::ServiceInstaller installer(executor, root_of(flags), mode_of(flags));
    const bool start = !flags.has("no-start") && !flags.has("root");
    const auto result = installer.install(options, binary, secret, start);
    for (const auto& warning : result.warnings) {
        std::cerr << "wgmesh service: warning: " << warning << "\n";
    }

    std::cout << "Installed " << service::kUnitFile << " and " << service::kSecretEnvFile
              << " (0600)" << (flags.has("root") ? " under " + *flags.value("root") : "")
              << "; enabled.\n";
    if (!result.start_verb.empty()) {
        std::cout << (result.start_verb == "restart" ? "Restarted " : "Started ")
                  << service::kUnitName << ".\n";
    } else if (!flags.has("root") && (result.unit_changed || result.secret_changed)) {
        std::cout << "Not started (--no-start). Run 'systemctl restart " << service::kUnitName
                  << "' to apply the changes to a running service.\n";
    }
    return 0;
}

int run_uninstall(const Flags& flags) {
    service::ProcessExecutor executor;
    service::ServiceInstaller installer(executor, root_of(flags), mode_of(flags));
    const auto result = installer.uninstall();
    if (!result.unit_removed && !result.secret_removed) {
        std::cout << service::kUnitName << " was not installed; nothing to remove.\n";
    } else {
        std::cout << "Removed " << service::kUnitName << " and its secret; the state in "
                  << service::kDefaultStateDir << " is kept.\n";
    }
    return 0;
}

int run_status(const Flags& flags) {
    service::ProcessExecutor executor;
    service::ServiceInstaller installer(executor, root_of(flags), mode_of(flags));
    const auto status = installer.status();
    std::cout << service::kUnitName << ": " << status.state_text << " (" << status.enabled_text
              << ")\n"
              << "unit:   " << service::kUnitFile
              << (status.unit_installed ? "" : " (not installed)") << "\n"
              << "secret: " << service::kSecretEnvFile
              << (status.secret_installed ? "" : " (not installed)") << "\n";
    if (!status.problem.empty()) {
        std::cout << "systemctl: " << status.problem << "\n";
    }
    const bool healthy =
        flags.has("root") ? status.unit_installed : status.state == service::ServiceState::kActive;
    return healthy ? 0 : kExitNotActive;
}

}  // namespace

int run_service(Args args) {
    if (args.empty()) {
        throw UsageError("missing subcommand: unit, install, uninstall or status");
    }
    const std::string& subcommand = args.front();
    if (subcommand == "--help" || subcommand == "-h" || subcommand == "help") {
        std::cout << kUsage;
        return 0;
    }
    if (subcommand != "unit" && subcommand != "install" && subcommand != "uninstall" &&
        subcommand != "status") {
        throw UsageError("unknown subcommand '" + subcommand +
                         "': expected unit, install, uninstall or status");
    }
    const auto specs = service_flag_specs(subcommand);
    const Flags flags(args.subspan(1), specs);
    if (flags.help_requested()) {
        std::cout << kUsage << "\nFlags of 'wgmesh service " << subcommand << "':\n"
                  << describe_flags(specs);
        return 0;
    }
    if (!flags.positional().empty()) {
        throw UsageError("unexpected argument '" + flags.positional().front() + "'");
    }
    if (subcommand == "unit") {
        return flags.has("template") ? run_template_unit(flags, specs) : run_unit(flags);
    }
    if (subcommand == "install") {
        return run_install(flags);
    }
    if (subcommand == "uninstall") {
        return run_uninstall(flags);
    }
    return run_status(flags);
}

}  // namespace wgmesh::cli
