#include "service/join_options.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>

#include "netlink/interface_name.h"

namespace wgmesh::service {

namespace {

constexpr std::size_t kMaxPathBytes = 4095;      // PATH_MAX - 1
constexpr std::uint32_t kRouteTableLocal = 255;  // RT_TABLE_LOCAL: the kernel's own routes
// Protocols up to RTPROT_STATIC (4) mark kernel, boot and administrator routes; owning one
// of them would make wgmesh delete routes it never created.
constexpr unsigned kMinRouteProtocol = 5;
// Characters that mean something in a unit file (specifiers, quoting, variable expansion,
// command separators, escapes) or a shell, refused in every value that can reach the unit.
constexpr std::string_view kUnitMetaCharacters = "%\"';$`\\";

// The value as it can be shown in an error: control and non-ASCII bytes as \xNN.
std::string shown(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 80)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f) {
            out += c;
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
            out += escaped;
        }
    }
    return text.size() > 80 ? out + "..." : out;
}

std::string describe(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
        return "a newline";
    }
    if (byte < 0x20 || byte == 0x7f) {
        char text[48];
        std::snprintf(text, sizeof(text), "a control character (0x%02x)", byte);
        return text;
    }
    if (byte >= 0x80) {
        return "a non-ASCII byte";
    }
    if (c == ' ') {
        return "a space";
    }
    return std::string("'") + c + "'";
}

[[noreturn]] void reject(std::string_view flag, std::string_view value, const std::string& why) {
    throw std::invalid_argument("--" + std::string(flag) + " '" + shown(value) + "': " + why);
}

// The first byte that is not printable ASCII, is whitespace, or is a unit metacharacter.
std::optional<char> first_unsafe_byte(std::string_view text) {
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte >= 0x7f || kUnitMetaCharacters.find(c) != std::string_view::npos) {
            return c;
        }
    }
    return std::nullopt;
}

unsigned long parse_number(std::string_view flag, std::string_view text, unsigned long min,
                           unsigned long max) {
    unsigned long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
        value > max) {
        reject(flag, text,
               "must be a number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
}

void require_safe_path_for(std::string_view flag, std::string_view path) {
    if (path.empty()) {
        reject(flag, path, "must not be empty");
    }
    if (const auto bad = first_unsafe_byte(path)) {
        reject(flag, path, describe(*bad) + " is not allowed in a path");
    }
    if (path.front() != '/') {
        reject(flag, path, "must be an absolute path");
    }
    if (path.size() > kMaxPathBytes) {
        reject(flag, path, "is longer than " + std::to_string(kMaxPathBytes) + " bytes");
    }
    if (path.size() > 1 && path.back() == '/') {
        reject(flag, path, "must not end with '/'");
    }
    std::string_view rest = path.substr(1);
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const std::string_view component = rest.substr(0, slash);
        if (component.empty() || component == "." || component == "..") {
            reject(flag, path, "must be normalised (no empty, '.' or '..' components)");
        }
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    }
}

netlink::Prefix parse_prefix(std::string_view flag, std::string_view text) {
    if (const auto bad = first_unsafe_byte(text)) {
        reject(flag, text, describe(*bad) + " is not allowed in a CIDR");
    }
    const auto prefix = netlink::Prefix::parse(text);
    if (!prefix) {
        reject(flag, text, "is not a CIDR such as 192.0.2.0/24 or 2001:db8::/48");
    }
    return *prefix;
}

void require_mesh_subnet(const netlink::Prefix& subnet) {
    if (subnet.family() != netlink::Family::kIpv4 || subnet.length() > kMaxMeshSubnetLength) {
        reject("mesh-subnet", subnet.to_string(),
               "must be an IPv4 network of at most /" + std::to_string(kMaxMeshSubnetLength));
    }
}

void require_route_table(std::uint32_t table) {
    if (table == 0 || table == kRouteTableLocal) {
        reject("route-table", std::to_string(table),
               "0 (unspecified) and 255 (the kernel's local table) cannot be used");
    }
}

void require_route_protocol(unsigned protocol) {
    if (protocol < kMinRouteProtocol || protocol > 255) {
        reject("route-protocol", std::to_string(protocol),
               "must be a number from 5 to 255 (0-4 belong to the kernel and the administrator)");
    }
}

void require_userspace(std::string_view program) {
    if (program.find('/') != std::string_view::npos) {
        require_safe_path_for("userspace", program);
        return;
    }
    if (program.empty()) {
        reject("userspace", program, "must not be empty");
    }
    for (const char c : program) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '+';
        if (!ok) {
            reject("userspace", program,
                   describe(c) + " is not allowed in a program name (use an absolute path?)");
        }
    }
    if (program.front() == '-' || program == "." || program == "..") {
        reject("userspace", program, "is not a program name");
    }
}

void require_wireguard_backend(std::string_view backend) {
    if (backend != "auto" && backend != "kernel" && backend != "userspace") {
        reject("wireguard-backend", backend, "must be one of auto, kernel, userspace");
    }
}

std::string canonical_log_level(std::string_view level) {
    if (level == "warning") {
        return "warn";
    }
    if (level == "error" || level == "warn" || level == "info" || level == "debug") {
        return std::string(level);
    }
    reject("log-level", level, "must be one of error, warn, info, debug");
}

std::string join_prefixes(const std::vector<netlink::Prefix>& prefixes) {
    std::string out;
    for (const auto& prefix : prefixes) {
        if (!out.empty()) {
            out += ',';
        }
        out += prefix.to_string();
    }
    return out;
}

}  // namespace

void require_interface_name(std::string_view name) {
    if (auto problem = netlink::interface_name_problem(name)) {
        reject("interface", name, "is not a usable interface name: " + *problem);
    }
}

void require_safe_path(std::string_view what, std::string_view path) {
    require_safe_path_for(what, path);
}

void JoinOptions::set_interface(std::string_view name) {
    require_interface_name(name);
    interface = std::string(name);
}

void JoinOptions::set_listen_port(std::string_view text) {
    listen_port = static_cast<std::uint16_t>(parse_number("listen-port", text, 1, 65535));
}

void JoinOptions::set_advertise_routes(std::string_view comma_separated) {
    if (comma_separated.empty()) {
        reject("advertise-routes", comma_separated, "must list at least one CIDR");
    }
    std::vector<netlink::Prefix> routes;
    std::string_view rest = comma_separated;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        if (item.empty()) {
            reject("advertise-routes", comma_separated, "has an empty item between commas");
        }
        const auto prefix = parse_prefix("advertise-routes", item);
        if (std::find(routes.begin(), routes.end(), prefix) == routes.end()) {
            routes.push_back(prefix);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        rest = rest.substr(comma + 1);
    }
    advertise_routes = std::move(routes);
}

void JoinOptions::set_mesh_subnet(std::string_view cidr) {
    if (cidr.find('/') == std::string_view::npos) {
        reject("mesh-subnet", cidr, "must be a CIDR such as 10.99.0.0/16");
    }
    const auto subnet = parse_prefix("mesh-subnet", cidr);
    require_mesh_subnet(subnet);
    mesh_subnet = subnet;
}

void JoinOptions::set_state_dir(std::string_view path) {
    require_safe_path_for("state-dir", path);
    if (path == "/") {
        reject("state-dir", path, "the root directory cannot be the state directory");
    }
    state_dir = std::string(path);
}

void JoinOptions::set_peers_file(std::string_view path) {
    require_safe_path_for("peers-file", path);
    if (path == "/") {
        reject("peers-file", path, "is a directory");
    }
    peers_file = std::string(path);
}

void JoinOptions::set_metrics_file(std::string_view path) {
    require_safe_path_for("metrics-file", path);
    if (path == "/") {
        reject("metrics-file", path, "is a directory");
    }
    metrics_file = std::string(path);
}

void JoinOptions::set_route_table(std::string_view text) {
    const auto table = static_cast<std::uint32_t>(parse_number("route-table", text, 1, UINT32_MAX));
    require_route_table(table);
    route_table = table;
}

void JoinOptions::set_route_protocol(std::string_view text) {
    const auto protocol = static_cast<unsigned>(parse_number("route-protocol", text, 0, 255));
    require_route_protocol(protocol);
    route_protocol = protocol;
}

void JoinOptions::set_userspace(std::string_view program) {
    require_userspace(program);
    userspace = std::string(program);
}

void JoinOptions::set_wireguard_backend(std::string_view backend) {
    require_wireguard_backend(backend);
    wireguard_backend = std::string(backend);
}

void JoinOptions::set_log_level(std::string_view level) {
    log_level = canonical_log_level(level);
}

void JoinOptions::validate() const {
    require_interface_name(interface);
    if (listen_port == 0) {
        reject("listen-port", "0", "must be a number from 1 to 65535");
    }
    if (mesh_subnet) {
        require_mesh_subnet(*mesh_subnet);
    }
    require_safe_path_for("state-dir", state_dir);
    if (state_dir == "/") {
        reject("state-dir", state_dir, "the root directory cannot be the state directory");
    }
    if (!peers_file.empty()) {
        require_safe_path_for("peers-file", peers_file);
    }
    if (!metrics_file.empty()) {
        require_safe_path_for("metrics-file", metrics_file);
    }
    require_route_table(route_table);
    require_route_protocol(route_protocol);
    require_userspace(userspace);
    require_wireguard_backend(wireguard_backend);
    if (canonical_log_level(log_level) != log_level) {
        reject("log-level", log_level, "must be one of error, warn, info, debug");
    }
}

std::vector<std::string> JoinOptions::to_arguments() const {
    std::vector<std::string> args = {"--interface", interface};
    const auto add = [&args](const char* flag, std::string value) {
        args.emplace_back(flag);
        args.push_back(std::move(value));
    };
    if (listen_port != kDefaultListenPort) {
        add("--listen-port", std::to_string(listen_port));
    }
    if (!advertise_routes.empty()) {
        add("--advertise-routes", join_prefixes(advertise_routes));
    }
    if (mesh_subnet) {
        add("--mesh-subnet", mesh_subnet->to_string());
    }
    for (const auto& [set, flag] :
         {std::pair{introducer, "--introducer"}, std::pair{force_relay, "--force-relay"},
          std::pair{no_ipv6, "--no-ipv6"}, std::pair{privacy, "--privacy"}}) {
        if (set) {
            args.emplace_back(flag);
        }
    }
    if (state_dir != kDefaultStateDir) {
        add("--state-dir", state_dir);
    }
    if (!peers_file.empty()) {
        add("--peers-file", peers_file);
    }
    if (!metrics_file.empty()) {
        add("--metrics-file", metrics_file);
    }
    if (route_table != kDefaultRouteTable) {
        add("--route-table", std::to_string(route_table));
    }
    if (route_protocol != kDefaultRouteProtocol) {
        add("--route-protocol", std::to_string(route_protocol));
    }
    if (userspace != kDefaultUserspace) {
        add("--userspace", userspace);
    }
    if (wireguard_backend != kDefaultWireguardBackend) {
        add("--wireguard-backend", wireguard_backend);
    }
    if (log_level != kDefaultLogLevel) {
        add("--log-level", log_level);
    }
    return args;
}

}  // namespace wgmesh::service
