// The options of `wgmesh join`, validated once: the daemon runs with them and the systemd
// unit reproduces them on its ExecStart= line. Every value may end up inside a unit file, so
// the checks are strict enough that nothing can break out of its place there (no newlines,
// no '%' specifiers, no quotes, ';', '$' or backslashes), with errors naming the flag.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/ip_address.h"

namespace wgmesh::service {

inline constexpr std::uint16_t kDefaultListenPort = 51820;
inline constexpr std::string_view kDefaultStateDir = "/var/lib/wgmesh";
inline constexpr std::uint32_t kDefaultRouteTable = 254;  // RT_TABLE_MAIN
inline constexpr unsigned kDefaultRouteProtocol = 150;
inline constexpr std::string_view kDefaultUserspace = "wireguard-go";
// `--wireguard-backend`: auto (like wg-quick), kernel or userspace (see wg/device_factory.h).
inline constexpr std::string_view kDefaultWireguardBackend = "auto";
inline constexpr std::string_view kDefaultLogLevel = "info";
inline constexpr unsigned kMaxMeshSubnetLength = 30;  // leaves at least two host addresses

struct JoinOptions {
    std::string interface;  // required: no default
    std::uint16_t listen_port = kDefaultListenPort;
    std::vector<netlink::Prefix> advertise_routes;  // normalised, duplicates dropped
    std::optional<netlink::Prefix> mesh_subnet;     // IPv4, at most /30; unset: derived
    bool introducer = false;
    bool force_relay = false;
    bool no_ipv6 = false;
    bool privacy = false;
    std::string state_dir = std::string(kDefaultStateDir);
    std::string peers_file;    // empty: no peers file
    std::string metrics_file;  // empty: none; else written after every cycle (docs/metrics.md)
    std::uint32_t route_table = kDefaultRouteTable;
    unsigned route_protocol = kDefaultRouteProtocol;
    std::string userspace = std::string(kDefaultUserspace);  // program name or absolute path
    std::string wireguard_backend = std::string(kDefaultWireguardBackend);  // auto|kernel|userspace
    std::string log_level = std::string(kDefaultLogLevel);  // error | warn | info | debug

    // Setters parse the flag's text; each throws std::invalid_argument naming the flag.
    void set_interface(std::string_view name);
    void set_listen_port(std::string_view text);
    void set_advertise_routes(std::string_view comma_separated);
    void set_mesh_subnet(std::string_view cidr);
    void set_state_dir(std::string_view path);
    void set_peers_file(std::string_view path);
    void set_metrics_file(std::string_view path);
    void set_route_table(std::string_view text);
    void set_route_protocol(std::string_view text);
    void set_userspace(std::string_view program);
    void set_wireguard_backend(std::string_view backend);
    void set_log_level(std::string_view level);

    // The fields are public, so whoever consumes them (unit generation, the daemon) checks
    // the whole set again. Throws std::invalid_argument naming the flag.
    void validate() const;

    // `wgmesh join` arguments that reproduce these options: --interface, then only the
    // flags whose values differ from the defaults, in the order of SPEC section 13.
    std::vector<std::string> to_arguments() const;

    bool operator==(const JoinOptions&) const = default;
};

// Kernel rules (1-15 bytes, not "." or "..", no '/', ':' or whitespace) plus printable ASCII
// without the characters that have a meaning in unit files or shells. Throws
// std::invalid_argument naming --interface.
void require_interface_name(std::string_view name);

// An absolute, normalised path ("/a/b": no "//", "." or ".." components, no trailing '/'),
// printable ASCII without whitespace, '%', quotes, ';', '$', '`' or '\'. `what` names the
// flag in the error.
void require_safe_path(std::string_view what, std::string_view path);

}  // namespace wgmesh::service
