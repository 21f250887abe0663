#include "service/unit_file.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "service/service_paths.h"

namespace wgmesh::service {

namespace {

// The sysctls the daemon writes: ip_forward (SPEC section 9) and, when a collision moves the
// mesh address inside its subnet, net.ipv4.conf.<iface>.promote_secondaries (for an
// interface that may not exist yet when the service starts, hence the whole directory; its
// settings are also writable through rtnetlink with CAP_NET_ADMIN). ProtectKernelTunables=
// makes /proc/sys read-only; only these are bound back read-write.
constexpr std::string_view kWritableSysctls =
    "/proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf";

// Trees the sandbox hides or replaces: ProtectHome=true makes the first three inaccessible,
// PrivateTmp=yes gives the service its own empty /tmp and /var/tmp.
// Where StateDirectory= lives for system services.
constexpr std::string_view kStateRoot = "/var/lib/";

constexpr std::array<std::string_view, 5> kHiddenTrees = {"/home", "/root", "/run/user", "/tmp",
                                                          "/var/tmp"};

void require_visible(std::string_view flag, std::string_view path) {
    for (const auto tree : kHiddenTrees) {
        if (path == tree || (path.size() > tree.size() && path.substr(0, tree.size()) == tree &&
                             path[tree.size()] == '/')) {
            throw std::invalid_argument("--" + std::string(flag) + " '" + std::string(path) +
                                        "': " + std::string(tree) +
                                        " is hidden from the service by its sandbox "
                                        "(ProtectHome=, PrivateTmp=); use a path outside it");
        }
    }
}

std::string exec_start(const JoinOptions& options, std::string_view binary_path) {
    std::string line = escape_exec_argument(binary_path) + " join";
    for (const auto& argument : options.to_arguments()) {
        line += ' ';
        line += escape_exec_argument(argument);
    }
    return line;
}

// The state directory as systemd's StateDirectory= takes it: relative to /var/lib. systemd
// creates it for the service's user, takes over a root-owned one from an older install (its
// tree is chowned, nothing is moved out) and, with DynamicUser=, keeps it in
// /var/lib/private/ behind a symlink at the usual place.
std::string state_directory(const JoinOptions& options) {
    const std::string_view path = options.state_dir;
    if (path.size() <= kStateRoot.size() || path.substr(0, kStateRoot.size()) != kStateRoot) {
        throw std::invalid_argument("--state-dir '" + options.state_dir +
                                    "': the service keeps its state under " +
                                    std::string(kStateRoot) +
                                    " (systemd's StateDirectory=, owned by the service's user); "
                                    "use a directory there");
    }
    return escape_specifiers(path.substr(kStateRoot.size()));
}

// What differs between the unit `wgmesh service install` writes and the packaged template;
// everything else, the whole sandbox, is rendered once so the two cannot drift apart.
struct UnitParts {
    std::string header;       // comment lines, each ending in '\n'
    std::string description;  // after "wgmesh WireGuard mesh node on "
    std::string exec_start;
    std::string environment_file;  // holds WGMESH_SECRET
    std::string state_directory;   // relative to /var/lib
    std::string metrics_file;      // empty: none
};

std::string render_unit(const UnitParts& parts) {
    std::string unit;
    unit += parts.header;
    unit += "[Unit]\n";
    unit += "Description=wgmesh WireGuard mesh node on " + parts.description + "\n";
    unit += "Wants=network-online.target\n";
    unit += "After=network-online.target\n";
    unit += "\n[Service]\n";
    // The daemon sends READY=1 after its first reconcile and STOPPING=1 on shutdown.
    unit += "Type=notify\n";
    unit += "NotifyAccess=main\n";
    unit += "ExecStart=" + parts.exec_start + "\n";
    // SIGHUP: reload the peers file and reconcile now.
    unit += "ExecReload=/bin/kill -HUP $MAINPID\n";
    unit += "Restart=always\n";
    unit += "RestartSec=5\n";
    unit += "TimeoutStopSec=30\n";
    // Only the daemon gets SIGTERM: a userspace WireGuard child (wireguard-go) keeps the
    // interface up across restarts, as the kernel module would, and the next start adopts it.
    unit += "KillMode=process\n";
    unit += "EnvironmentFile=" + parts.environment_file + "\n";
    // A core dump would carry the secret out of its 0600 file.
    unit += "LimitCORE=0\n";
    unit += "UMask=0077\n";
    // Not root: a user of its own that holds CAP_NET_ADMIN and nothing else, inherited by a
    // userspace WireGuard it starts (ambient capabilities survive execve). systemd allocates
    // the user while the service runs, or uses a system user "wgmesh" when one exists
    // (docs/systemd.md says why this is not a user created at install).
    unit += "DynamicUser=yes\n";
    unit += "User=" + std::string(kServiceUser) + "\n";
    unit += "Group=" + std::string(kServiceUser) + "\n";
    unit += "AmbientCapabilities=CAP_NET_ADMIN\n";
    // Node key, peer cache, nonce and interface state: created and owned by that user.
    unit += "StateDirectory=" + parts.state_directory + "\n";
    unit += "StateDirectoryMode=0700\n";
    // /run/wgmesh holds the control socket; /run/wireguard the userspace UAPI sockets. Both
    // are kept on stop: /run/wireguard is shared with other WireGuard tools, and a
    // wireguard-go left running across a restart keeps its socket there.
    unit += "RuntimeDirectory=wgmesh wireguard\n";
    unit += "RuntimeDirectoryMode=0700\n";
    unit += "RuntimeDirectoryPreserve=yes\n";
    unit += "\n# Sandbox (see docs/systemd.md for why each relaxed setting is needed).\n";
    unit += "NoNewPrivileges=yes\n";
    unit += "CapabilityBoundingSet=CAP_NET_ADMIN\n";
    unit += "ProtectSystem=strict\n";
    unit += "ProtectHome=true\n";
    unit += "ReadWritePaths=" + std::string(kWritableSysctls) + "\n";
    if (!parts.metrics_file.empty()) {
        // The metrics file is replaced by a rename in its directory (node_exporter's textfile
        // directory), which the service user must be allowed to write (docs/metrics.md).
        unit +=
            "ReadWritePaths=" +
            escape_specifiers(std::filesystem::path(parts.metrics_file).parent_path().string()) +
            "\n";
    }
    unit += "PrivateTmp=yes\n";
    unit += "PrivateMounts=yes\n";
    // A /dev of pseudo devices only, plus the TUN device for a userspace WireGuard; "-": a
    // host without /dev/net/tun (kernel WireGuard only) still starts the service.
    unit += "PrivateDevices=yes\n";
    unit += "BindPaths=-/dev/net/tun\n";
    unit += "DeviceAllow=/dev/net/tun rw\n";
    unit += "ProtectKernelTunables=yes\n";
    unit += "ProtectKernelModules=yes\n";
    unit += "ProtectKernelLogs=yes\n";
    unit += "ProtectControlGroups=yes\n";
    unit += "ProtectClock=yes\n";
    unit += "ProtectHostname=yes\n";
    unit += "ProtectProc=invisible\n";
    unit += "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\n";
    unit += "RestrictNamespaces=yes\n";
    unit += "RestrictRealtime=yes\n";
    unit += "RestrictSUIDSGID=yes\n";
    unit += "LockPersonality=yes\n";
    unit += "MemoryDenyWriteExecute=yes\n";
    unit += "RemoveIPC=yes\n";
    unit += "KeyringMode=private\n";
    unit += "SystemCallArchitectures=native\n";
    unit += "SystemCallFilter=@system-service\n";
    // @resources too: the Go runtime of wireguard-go tries to raise RLIMIT_NOFILE and carries
    // on when it may not (1024 descriptors are plenty for one interface).
    unit += "SystemCallFilter=~@privileged @resources\n";
    unit += "SystemCallErrorNumber=EPERM\n";
    unit += "\n[Install]\n";
    unit += "WantedBy=multi-user.target\n";
    return unit;
}

}  // namespace

std::string escape_specifiers(std::string_view text) {
    std::string out;
    for (const char c : text) {
        out += c;
        if (c == '%') {
            out += '%';
        }
    }
    return out;
}

std::string escape_exec_argument(std::string_view argument) {
    bool quote = argument.empty();
    std::string body;
    for (const char c : argument) {
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '%':
                body += "%%";
                break;
            case '$':
                body += "$$";
                break;
            case '\\':
            case '"':
                body += '\\';
                body += c;
                quote = true;
                break;
            case ' ':
            case '\'':
            case ';':
                body += c;
                quote = true;
                break;
            default:
                if (byte < 0x20 || byte == 0x7f) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
                    body += escaped;
                    quote = true;
                } else {
                    body += c;
                }
        }
    }
    return quote ? "\"" + body + "\"" : body;
}

std::string generate_unit(const JoinOptions& options, std::string_view binary_path) {
    options.validate();
    require_safe_path("binary", binary_path);
    require_visible("binary", binary_path);
    const std::string state = state_directory(options);
    if (!options.peers_file.empty()) {
        require_visible("peers-file", options.peers_file);
    }
    if (!options.metrics_file.empty()) {
        require_visible("metrics-file", options.metrics_file);
    }
    if (options.userspace.find('/') != std::string::npos) {
        require_visible("userspace", options.userspace);
    }

    UnitParts parts;
    parts.header =
        "# Generated by 'wgmesh service'. Change the flags and run 'wgmesh service install'\n"
        "# again rather than editing this file. The mesh secret is not in this file: it is\n";
    parts.header += "# read from " + std::string(kSecretEnvFile) + " (mode 0600).\n";
    parts.description = escape_specifiers(options.interface);
    parts.exec_start = exec_start(options, binary_path);
    parts.environment_file = std::string(kSecretEnvFile);
    parts.state_directory = state;
    parts.metrics_file = options.metrics_file;
    return render_unit(parts);
}

std::string generate_template_unit(std::string_view binary_path) {
    require_safe_path("binary", binary_path);
    require_visible("binary", binary_path);
    UnitParts parts;
    parts.header =
        "# wgmesh@.service: one wgmesh node per WireGuard interface, the instance name.\n"
        "# The mesh secret (WGMESH_SECRET=...) and optional join flags (WGMESH_ARGS=...) are\n";
    parts.header +=
        "# read from " + std::string(kSecretDir) +
        "/<interface>.env (mode 0600). Generated by 'wgmesh service unit --template'.\n";
    // %i: the instance, the interface name (an instance name cannot hold '%').
    parts.description = "%i";
    // $WGMESH_ARGS unquoted: systemd splits it into words, so it may carry several flags.
    parts.exec_start = escape_exec_argument(binary_path) + " join --interface %i $WGMESH_ARGS";
    parts.environment_file = std::string(kSecretDir) + "/%i.env";
    parts.state_directory = escape_specifiers(kDefaultStateDir.substr(kStateRoot.size()));
    return render_unit(parts);
}

}  // namespace wgmesh::service
