// `wgmesh status`, `wgmesh peers`, `wgmesh peer add|remove`: clients of the daemon's control
// socket (SPEC section 13).
#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "mesh/control_server.h"
#include "mesh/terminal_text.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/control_socket_flag.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {
namespace {

const FlagSpec kInterfaceFlag{"interface", "IF", "the daemon's interface (selects its socket)"};
const FlagSpec kSocketFlag{"socket", "PATH", "control socket (default /run/wgmesh/<IF>.sock)"};
const FlagSpec kJsonFlag{"json", "", "print the daemon's answer as JSON"};

// The result of a successful call; otherwise prints why and returns nullopt.
std::optional<nlohmann::json> call(const std::filesystem::path& socket, std::string method,
                                   nlohmann::json params = nlohmann::json::object()) {
    nlohmann::json response;
    try {
        response = mesh::control_call(socket, {std::move(method), std::move(params)});
    } catch (const std::exception& e) {
        std::cerr << "wgmesh: no daemon answers on " << socket.string()
                  << " (is `wgmesh join` running for this interface?): " << e.what() << "\n";
        return std::nullopt;
    }
    if (!response.value("ok", false)) {
        const auto error = response.find("error");
        std::cerr << "wgmesh: the daemon refused: "
                  << mesh::terminal_safe(error != response.end() && error->is_string()
                                             ? error->get<std::string>()
                                             : response.dump())
                  << "\n";
        return std::nullopt;
    }
    return response.contains("result") ? response["result"] : nlohmann::json();
}

Flags parse(Args args, const std::vector<FlagSpec>& specs, const char* usage) {
    Flags flags(args, specs);
    if (flags.help_requested()) {
        std::cout << usage << "\nflags:\n" << describe_flags(specs);
    } else if (!flags.positional().empty()) {
        throw UsageError("unexpected argument '" + flags.positional().front() + "'");
    }
    return flags;
}

std::string text_of(const nlohmann::json& json, const char* key) {
    const auto it = json.find(key);
    if (it == json.end() || it->is_null()) {
        return "-";
    }
    // Strings come from peers (hostnames) and are shown escaped where a terminal would act.
    return it->is_string() ? mesh::terminal_safe(it->get_ref<const std::string&>()) : it->dump();
}

// A JSON value from the daemon as text a terminal shows but never acts on.
std::string safe_text(const nlohmann::json& value) {
    return value.is_string() ? mesh::terminal_safe(value.get_ref<const std::string&>())
                             : value.dump();
}

std::string age(std::int64_t unix_seconds) {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    return std::to_string(now > unix_seconds ? now - unix_seconds : 0) + " s ago";
}

// The daemon's "kernel" object: missing mesh addresses first (an operator must never read a
// healthy status while owned state is gone), then the monitor, drift, fights and resyncs.
void print_kernel_state(const nlohmann::json& kernel) {
    for (const auto& address : kernel.value("mesh_addresses", nlohmann::json::array())) {
        if (!address.value("present", true)) {
            std::cout << "address:     MISSING: " << text_of(address, "address")
                      << " is not on the interface (being put back)\n";
        }
    }
    if (kernel.contains("mesh_addresses_error")) {
        std::cout << "address:     cannot read: " << text_of(kernel, "mesh_addresses_error")
                  << "\n";
    }
    std::cout << "kernel:      monitor " << text_of(kernel, "monitor") << ", full resync every "
              << text_of(kernel, "resync_interval_s") << " s";
    const auto& resync = kernel.at("last_full_resync");
    if (resync.is_object()) {
        std::cout << ", last " << age(resync.value("at", std::int64_t{0})) << " ("
                  << text_of(resync, "reason") << ", " << text_of(resync, "duration_ms") << " ms, "
                  << text_of(resync, "changes") << " changes)";
    }
    std::cout << "\n";
    for (const auto& [kind, counter] : kernel.at("drift").items()) {
        if (counter.value("events", std::size_t{0}) == 0) {
            continue;
        }
        std::cout << "drift:       " << kind << ": " << text_of(counter, "events")
                  << " external change(s) seen, " << text_of(counter, "repairs") << " repaired";
        if (counter.at("last_time_to_repair_ms").is_number()) {
            std::cout << ", last in " << text_of(counter, "last_time_to_repair_ms") << " ms";
        }
        std::cout << "\n";
    }
    for (const auto& fight : kernel.at("fights")) {
        std::cout << "FIGHT:       something keeps removing " << text_of(fight, "object") << ": "
                  << text_of(fight, "removals") << " times within " << text_of(fight, "window_s")
                  << " s, last " << age(fight.value("last_at", std::int64_t{0}))
                  << "; repairs are backed off\n";
    }
}

// The forwarding-path check: one line when all is well, else a line per check that is not,
// with its reason and what to do (relay traffic silently dropped is what operators hit most).
void print_forwarding_path(const nlohmann::json& path) {
    if (!path.is_object()) {
        std::cout << "forwarding:  not checked yet\n";
        return;
    }
    const auto checks = path.value("checks", nlohmann::json::array());
    std::size_t shown = 0;
    for (const auto& check : checks) {
        const auto verdict = check.value("verdict", std::string("ok"));
        if (verdict == "ok") {
            continue;
        }
        ++shown;
        std::cout << "forwarding:  " << (verdict == "fail" ? "FAIL " : "warn ")
                  << text_of(check, "check") << ": " << text_of(check, "reason");
        if (!check.value("action", std::string()).empty()) {
            std::cout << "; do: " << text_of(check, "action");
        }
        std::cout << "\n";
    }
    if (shown == 0) {
        std::cout << "forwarding:  ok (" << checks.size()
                  << " checks: sysctls and every forward chain let relay traffic through)\n";
    }
}

// A point in time as the local wall clock shows it, for "offline until".
std::string clock_time(std::int64_t unix_seconds) {
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm local{};
    char text[32] = "?";
    if (::localtime_r(&t, &local) != nullptr) {
        std::strftime(text, sizeof(text), "%H:%M:%S", &local);
    }
    return text;
}

// A peer's "health" object in one line: healthy (by handshake or by probe, with the round
// trip), failing or OFFLINE until a time, with the failure count and the last probe error.
std::string describe_health(const nlohmann::json& health) {
    const auto state = health.value("state", std::string());
    const auto failures = health.value("failures", std::size_t{0});
    std::string text;
    if (state == "handshake") {
        text = "healthy (recent WireGuard handshake)";
    } else if (state == "probe") {
        text = "healthy (answered a probe";
        if (health.contains("rtt_us") && health["rtt_us"].is_number()) {
            std::ostringstream rtt;
            rtt.precision(2);
            rtt << std::fixed << health["rtt_us"].get<double>() / 1000.0;
            text += ", rtt " + rtt.str() + " ms";
        }
        text += ")";
    } else if (state == "failing") {
        text = "failing (" + std::to_string(failures) + " probe(s) failed in a row)";
    } else if (state == "offline") {
        text = "OFFLINE until " + clock_time(health.value("offline_until", std::int64_t{0})) +
               " (" + std::to_string(failures) + " probes failed in a row; its networks fail over)";
    } else {
        text = "unchecked (no handshake yet, no probe due)";
    }
    if (state != "probe" && state != "handshake" && health.contains("last_error")) {
        text += ": " + text_of(health, "last_error");
    }
    if (health.value("failover_watch", false)) {
        text += ", probed every second (its networks have another advertiser)";
    }
    return text;
}

void print_status(const nlohmann::json& status) {
    std::cout << "interface:   " << text_of(status, "interface") << "\n"
              << "mesh id:     " << text_of(status, "mesh_id") << "\n"
              << "public key:  " << text_of(status, "public_key") << "\n"
              << "mesh ip:     " << text_of(status, "mesh_ip");
    if (status.contains("mesh_ipv6")) {
        std::cout << ", " << text_of(status, "mesh_ipv6");
    }
    std::cout << " (mesh " << text_of(status, "mesh_network") << ")\n"
              << "listen port: " << text_of(status, "listen_port") << "\n";
    const auto& peers = status.at("peers");
    std::cout << "peers:       " << text_of(peers, "known") << " known, "
              << text_of(peers, "usable") << " usable, " << text_of(peers, "confirmed")
              << " confirmed, " << text_of(peers, "cached") << " from cache only\n";
    if (const auto health = status.find("interface_health"); health != status.end()) {
        const auto fault = health->find("fault");
        const auto recreations = health->value("recreations", std::size_t{0});
        if (fault != health->end() && fault->is_string()) {
            std::cout << "interface:   BROKEN: " << fault->get<std::string>() << "\n";
        }
        if (recreations > 0) {
            std::cout << "interface:   recreated " << recreations << " time(s) since start\n";
        }
    }
    if (const auto kernel = status.find("kernel"); kernel != status.end()) {
        print_kernel_state(*kernel);
    }
    if (const auto path = status.find("forwarding_path"); path != status.end()) {
        print_forwarding_path(*path);
    }
    if (const auto health = status.find("health"); health != status.end()) {
        const auto count = [&health](const char* state) {
            return std::to_string(health->value(state, std::size_t{0}));
        };
        std::cout << "health:      " << count("handshake") << " healthy by handshake, "
                  << count("probe") << " by probe, " << count("failing") << " failing, "
                  << count("offline") << " offline, " << count("unchecked") << " unchecked\n";
        for (const auto& key : health->value("offline_peers", nlohmann::json::array())) {
            std::cout << "OFFLINE:     " << safe_text(key)
                      << " (skipped by route sync; see wgmesh peers)\n";
        }
    }
    if (const auto probe = status.find("probe"); probe != status.end()) {
        std::cout << "probe:       port " << text_of(*probe, "port") << ", listening on";
        const auto listening = probe->value("listening", nlohmann::json::array());
        for (const auto& address : listening) {
            std::cout << " " << safe_text(address);
        }
        std::cout << (listening.empty() ? " nothing" : "") << ", " << text_of(*probe, "connections")
                  << " connection(s), " << text_of(*probe, "pings_answered") << " pings answered\n";
        for (const auto& error : probe->value("errors", nlohmann::json::array())) {
            std::cout << "probe:       " << safe_text(error) << "\n";
        }
    }
    const auto& cycle = status.at("last_cycle");
    if (cycle.is_object()) {
        std::cout << "last cycle:  " << age(cycle.value("finished_at", std::int64_t{0})) << ", "
                  << text_of(cycle, "duration_ms") << " ms, " << text_of(cycle, "configured_peers")
                  << " WireGuard peers, " << text_of(cycle, "routes") << " routes, "
                  << cycle.at("errors").size() << " errors (" << text_of(status, "cycles")
                  << " cycles)\n";
        for (const auto& error : cycle.at("errors")) {
            std::cout << "  error: " << error.get<std::string>() << "\n";
        }
    } else {
        std::cout << "last cycle:  none yet\n";
    }
    for (const auto& [peer, relay] : status.at("relays").items()) {
        std::cout << "relayed:     " << peer << " via " << relay.get<std::string>() << "\n";
    }
    if (status.contains("epoch")) {
        const auto& epoch = status["epoch"];
        std::cout << "epoch:       " << text_of(epoch, "id") << ", relays";
        for (const auto& relay : epoch.at("relays")) {
            std::cout << " " << relay.get<std::string>();
        }
        std::cout << (epoch.at("relays").empty() ? " none\n" : "\n");
    }
}

void print_peers(const nlohmann::json& peers) {
    if (peers.empty()) {
        std::cout << "no peers\n";
        return;
    }
    for (const auto& peer : peers) {
        std::cout << text_of(peer, "wg_pubkey") << "\n"
                  << "  mesh ip:   " << text_of(peer, "mesh_ip");
        if (peer.contains("expected_mesh_ip")) {
            std::cout << " (expected " << text_of(peer, "expected_mesh_ip") << ")";
        }
        std::cout << "\n  endpoint:  " << text_of(peer, "endpoint") << "\n"
                  << "  state:     " << (peer.value("confirmed", false) ? "confirmed" : "cached")
                  << ", last seen " << age(peer.value("last_seen", std::int64_t{0}));
        if (peer.value("introducer", false)) {
            std::cout << ", introducer";
        }
        if (peer.contains("relay")) {
            std::cout << ", via relay " << text_of(peer, "relay");
        }
        std::cout << "\n";
        if (const auto health = peer.find("health"); health != peer.end() && health->is_object()) {
            std::cout << "  health:    " << describe_health(*health) << "\n";
        }
        if (peer.contains("latency_ms")) {
            std::cout << "  latency:   " << text_of(peer, "latency_ms") << " ms\n";
        }
        if (peer.contains("hostname")) {
            std::cout << "  hostname:  " << text_of(peer, "hostname") << "\n";
        }
        if (peer.contains("routable_networks")) {
            std::cout << "  networks: ";
            for (const auto& network : peer["routable_networks"]) {
                std::cout << " " << network.get<std::string>();
            }
            std::cout << "\n";
        }
    }
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream stream(text);
    for (std::string part; std::getline(stream, part, ',');) {
        if (!part.empty()) {
            parts.push_back(part);
        }
    }
    return parts;
}

// Peer commands name their peer by key; the daemon checks that it is one.
std::string required_pubkey(const Flags& flags) {
    const auto pubkey = flags.value("pubkey");
    if (!pubkey) {
        throw UsageError("--pubkey KEY is required");
    }
    return *pubkey;
}

int peer_add(Args args) {
    const std::vector<FlagSpec> specs = {
        kInterfaceFlag,
        kSocketFlag,
        {"pubkey", "KEY", "the peer's WireGuard public key (required)"},
        {"endpoint", "HOST:PORT", "where the peer listens (IP literal)"},
        {"mesh-ip", "IP", "the peer's mesh IPv4 address (default: derived)"},
        {"mesh-ipv6", "IP", "the peer's mesh IPv6 address (default: derived)"},
        {"routes", "CIDR,..", "networks the peer advertises"},
        {"introducer", "", "the peer is an introducer"},
        {"hostname", "NAME", "the peer's host name"},
        kJsonFlag,
    };
    const auto flags =
        parse(args, specs, "usage: wgmesh peer add --interface IF --pubkey KEY [flags]\n");
    if (flags.help_requested()) {
        return 0;
    }
    const auto socket = control_socket_path(flags);
    // The daemon validates every field (the peers file's rules) and says what is wrong.
    nlohmann::json peer = {{"wg_pubkey", required_pubkey(flags)}};
    const std::pair<const char*, const char*> fields[] = {{"endpoint", "endpoint"},
                                                          {"mesh-ip", "mesh_ip"},
                                                          {"mesh-ipv6", "mesh_ipv6"},
                                                          {"hostname", "hostname"}};
    for (const auto& [flag, field] : fields) {
        if (const auto value = flags.value(flag)) {
            peer[field] = *value;
        }
    }
    if (const auto routes = flags.value("routes")) {
        peer["routable_networks"] = split_commas(*routes);
    }
    if (flags.has("introducer")) {
        peer["introducer"] = true;
    }
    const auto result = call(socket, "peer.add", peer);
    if (!result) {
        return 1;
    }
    if (flags.has("json")) {
        std::cout << result->dump(2) << "\n";
    } else {
        for (const auto& warning : result->value("warnings", nlohmann::json::array())) {
            std::cerr << "wgmesh: warning: "
                      << (warning.is_string() ? mesh::terminal_safe(warning.get<std::string>())
                                              : warning.dump())
                      << "\n";
        }
        std::cout << (result->value("added", false) ? "added" : "updated") << " peer "
                  << text_of(*result, "wg_pubkey") << " (mesh ip " << text_of(*result, "mesh_ip")
                  << ")\n";
    }
    return 0;
}

int peer_remove(Args args) {
    const std::vector<FlagSpec> specs = {
        kInterfaceFlag, kSocketFlag, {"pubkey", "KEY", "the peer's public key (required)"}};
    const auto flags =
        parse(args, specs, "usage: wgmesh peer remove --interface IF --pubkey KEY\n");
    if (flags.help_requested()) {
        return 0;
    }
    const auto socket = control_socket_path(flags);
    const auto pubkey = required_pubkey(flags);
    const auto result = call(socket, "peer.remove", {{"wg_pubkey", pubkey}});
    if (!result) {
        return 1;
    }
    if (!result->value("removed", false)) {
        std::cerr << "wgmesh: no peer " << pubkey << " in the daemon's store\n";
        return 1;
    }
    std::cout << "removed peer " << text_of(*result, "wg_pubkey") << "\n";
    return 0;
}

// `status` and `peers`: one request without params, shown as JSON or by `print`.
int show(Args args, std::string_view method, const char* usage,
         void (*print)(const nlohmann::json&)) {
    const std::vector<FlagSpec> specs = {kInterfaceFlag, kSocketFlag, kJsonFlag};
    const auto flags = parse(args, specs, usage);
    if (flags.help_requested()) {
        return 0;
    }
    const auto result = call(control_socket_path(flags), std::string(method));
    if (!result) {
        return 1;
    }
    if (flags.has("json")) {
        std::cout << result->dump(2) << "\n";
    } else {
        print(*result);
    }
    return 0;
}

}  // namespace

int run_status(Args args) {
    return show(args, "status",
                "usage: wgmesh status --interface IF [--json]\n\n"
                "Shows what the running daemon for IF is doing.\n",
                print_status);
}

int run_peers(Args args) {
    return show(args, "peers",
                "usage: wgmesh peers --interface IF [--json]\n\n"
                "Lists the running daemon's peers; --json prints the peer cache's\n"
                "schema plus confirmed, discovered_via and relay.\n",
                print_peers);
}

int run_peer(Args args) {
    const std::string usage =
        "usage: wgmesh peer add --interface IF --pubkey KEY [--endpoint HOST:PORT]\n"
        "                       [--mesh-ip IP] [--routes CIDR,..] [--introducer]\n"
        "                       [--hostname H]\n"
        "       wgmesh peer remove --interface IF --pubkey KEY\n";
    if (args.empty()) {
        throw UsageError("wgmesh peer needs a subcommand: add or remove");
    }
    if (args[0] == "--help" || args[0] == "-h") {
        std::cout << usage;
        return 0;
    }
    if (args[0] == "add") {
        return peer_add(args.subspan(1));
    }
    if (args[0] == "remove") {
        return peer_remove(args.subspan(1));
    }
    throw UsageError("unknown subcommand 'peer " + args[0] + "' (add or remove)");
}

}  // namespace wgmesh::cli
