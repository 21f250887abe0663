#include "tools/wgmesh/join_flags.h"

#include <stdexcept>
#include <string>

namespace wgmesh::cli {

std::vector<FlagSpec> join_flag_specs() {
    using service::kDefaultListenPort;
    return {
        {"interface", "IF", "WireGuard interface to manage (required)"},
        {"listen-port", "N", "UDP port (default " + std::to_string(kDefaultListenPort) + ")"},
        {"advertise-routes", "CIDR,..", "networks reachable through this node"},
        {"mesh-subnet", "CIDR", "IPv4 mesh network instead of the derived 10.x.0.0/16"},
        {"introducer", "", "act as introducer and relay for other nodes"},
        {"force-relay", "", "reach peers through a relay even when direct is possible"},
        {"no-ipv6", "", "ignore IPv6 endpoints"},
        {"privacy", "", "relay announcements through Dandelion++ epochs"},
        {"state-dir", "DIR",
         "node key and peer cache (default " + std::string(service::kDefaultStateDir) + ")"},
        {"peers-file", "FILE", "JSON list of static peers, reloaded on SIGHUP"},
        {"metrics-file", "FILE",
         "write the Prometheus metrics here after every cycle (node_exporter textfile)"},
        {"route-table", "N",
         "routing table for routes (default " + std::to_string(service::kDefaultRouteTable) +
             ", main)"},
        {"route-protocol", "N",
         "rtm_protocol marking our routes (default " +
             std::to_string(service::kDefaultRouteProtocol) + ")"},
        {"userspace", "PROG",
         "userspace WireGuard when the kernel has none (default " +
             std::string(service::kDefaultUserspace) + ")"},
        {"wireguard-backend", "B",
         "auto (kernel if it has WireGuard, else --userspace), kernel or userspace (default " +
             std::string(service::kDefaultWireguardBackend) + ")"},
        {"log-level", "L",
         "error, warn, info or debug (default " + std::string(service::kDefaultLogLevel) + ")"},
    };
}

service::JoinOptions join_options_from_flags(const Flags& flags) {
    service::JoinOptions options;
    const auto interface = flags.value("interface");
    if (!interface) {
        throw UsageError("--interface IF is required");
    }
    using Setter = void (service::JoinOptions::*)(std::string_view);
    const std::pair<const char*, Setter> setters[] = {
        {"interface", &service::JoinOptions::set_interface},
        {"listen-port", &service::JoinOptions::set_listen_port},
        {"advertise-routes", &service::JoinOptions::set_advertise_routes},
        {"mesh-subnet", &service::JoinOptions::set_mesh_subnet},
        {"state-dir", &service::JoinOptions::set_state_dir},
        {"peers-file", &service::JoinOptions::set_peers_file},
        {"metrics-file", &service::JoinOptions::set_metrics_file},
        {"route-table", &service::JoinOptions::set_route_table},
        {"route-protocol", &service::JoinOptions::set_route_protocol},
        {"userspace", &service::JoinOptions::set_userspace},
        {"wireguard-backend", &service::JoinOptions::set_wireguard_backend},
        {"log-level", &service::JoinOptions::set_log_level},
    };
    try {
        for (const auto& [name, setter] : setters) {
            if (const auto value = flags.value(name)) {
                (options.*setter)(*value);
            }
        }
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    options.introducer = flags.has("introducer");
    options.force_relay = flags.has("force-relay");
    options.no_ipv6 = flags.has("no-ipv6");
    options.privacy = flags.has("privacy");
    return options;
}

}  // namespace wgmesh::cli
