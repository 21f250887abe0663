// `wgmesh cache show`: a read-only look at the peer cache file (SPEC sections 5 and 13).
// It never moves, repairs or rewrites the file: that is the daemon's job at startup.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "mesh/peer_cache.h"
#include "mesh/terminal_text.h"
#include "netlink/interface_name.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/flags.h"

namespace wgmesh::cli {

namespace {

const FlagSpec kShowFlags[] = {
    {"interface", "IF", "the WireGuard interface whose cache to show (required)"},
    {"state-dir", "DIR", "state directory (default /var/lib/wgmesh)"},
    {"json", "", "print the cache in its file schema"},
};

void print_usage(std::ostream& out) {
    out << "Usage: wgmesh cache show --interface IF [--state-dir DIR] [--json]\n\n"
           "Prints the peers in <state-dir>/<IF>-peers.json, the cache the daemon saves every\n"
           "5 minutes and on shutdown. A missing cache is reported (exit 0); a corrupt one is\n"
           "an error (exit 1) and is left where it is.\n\nFlags:\n"
        << describe_flags(kShowFlags);
}

std::string utc_time(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    if (::gmtime_r(&t, &tm) == nullptr) {
        return "?";
    }
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    return text;
}

std::string age(mesh::Clock::time_point then, mesh::Clock::time_point now) {
    using namespace std::chrono;
    const auto seconds = duration_cast<std::chrono::seconds>(now - then).count();
    if (seconds < 0) {
        return "in the future";
    }
    if (seconds < 120) {
        return std::to_string(seconds) + "s ago";
    }
    if (seconds < 2 * 3600) {
        return std::to_string(seconds / 60) + "m ago";
    }
    if (seconds < 2 * 86400) {
        return std::to_string(seconds / 3600) + "h ago";
    }
    return std::to_string(seconds / 86400) + "d ago";
}

std::int64_t unix_of(mesh::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// `text` padded with spaces to `width` characters (UTF-8 code points, a fair stand-in for
// terminal columns here).
std::string pad(const std::string& text, std::size_t width) {
    std::size_t characters = 0;
    for (const char c : text) {
        characters += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
    }
    return characters >= width ? text : text + std::string(width - characters, ' ');
}

void print_table(const mesh::PeerCache& cache, const mesh::CacheDocument& doc) {
    const auto now = mesh::Clock::now();
    std::cout << "Peer cache " << cache.path().string() << ": " << doc.peers.size()
              << (doc.peers.size() == 1 ? " peer" : " peers");
    if (doc.updated_at > 0) {
        std::cout << ", saved " << utc_time(doc.updated_at) << " UTC";
    }
    std::cout << "\n";
    if (doc.peers.empty()) {
        return;
    }
    std::printf("%-44s  %-15s  %-45s  %-20s  %s\n", "PUBLIC KEY", "MESH IP", "ENDPOINT", "HOSTNAME",
                "LAST SEEN (UTC)");
    for (const auto& peer : doc.peers) {
        const std::string last_seen =
            utc_time(unix_of(peer.last_seen)) + " (" + age(peer.last_seen, now) + ")";
        // The hostname is whatever the peer calls itself: escaped, it cannot drive the terminal.
        const std::string hostname =
            pad(peer.hostname.empty() ? "-" : mesh::terminal_safe(peer.hostname), 20);
        std::printf("%-44s  %-15s  %-45s  %s  %s\n", peer.wg_pubkey.to_base64().c_str(),
                    peer.mesh_ip ? peer.mesh_ip->to_string().c_str() : "-",
                    peer.endpoint ? peer.endpoint->to_string().c_str() : "-", hostname.c_str(),
                    last_seen.c_str());
        std::string extra;
        if (peer.mesh_ipv6) {
            extra += " ipv6=" + peer.mesh_ipv6->to_string();
        }
        if (!peer.routable_networks.empty()) {
            extra += " networks=";
            for (std::size_t i = 0; i < peer.routable_networks.size(); ++i) {
                if (i > 0) {
                    extra += ',';
                }
                extra += peer.routable_networks[i].to_string();
            }
        }
        if (peer.introducer) {
            extra += " introducer";
        }
        if (peer.nat_type != mesh::NatType::kNotReported) {
            extra += " nat=" + std::string(mesh::to_string(peer.nat_type));
        }
        if (!extra.empty()) {
            std::cout << "    " << extra.substr(1) << "\n";
        }
    }
}

void print_issues(std::ostream& out, const std::vector<mesh::CacheEntryIssue>& recorded,
                  std::size_t total, const std::string& headline) {
    if (total == 0) {
        return;
    }
    out << total << headline << "\n";
    for (const auto& line : mesh::describe_entry_issues(recorded, total)) {
        out << "  " << line << "\n";
    }
}

int run_show(Args args) {
    const Flags flags(args, kShowFlags);
    if (flags.help_requested()) {
        print_usage(std::cout);
        return 0;
    }
    if (!flags.positional().empty()) {
        throw UsageError("unexpected argument '" + flags.positional().front() + "'");
    }
    const auto interface = flags.value("interface");
    if (!interface) {
        throw UsageError("--interface is required");
    }
    try {
        netlink::require_valid_interface_name(*interface);
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    const std::string state_dir = flags.value_or("state-dir", std::string(mesh::kDefaultStateDir));
    if (state_dir.empty()) {
        throw UsageError("--state-dir must not be empty");
    }
    const mesh::PeerCache cache(state_dir, *interface);
    const mesh::CacheFileState state = cache.read();
    const bool json = flags.has("json");
    switch (state.status) {
        case mesh::CacheFileState::Status::kMissing:
            std::cerr << "no peer cache at " << cache.path().string() << "\n";
            if (json) {
                std::cout << mesh::serialize_peer_cache({}, mesh::Clock::time_point{});
            }
            return 0;
        case mesh::CacheFileState::Status::kCorrupt:
            throw std::runtime_error("peer cache " + mesh::terminal_safe(cache.path().string()) +
                                     " is corrupt: " + state.error);
        case mesh::CacheFileState::Status::kOk:
            break;
    }
    const auto& doc = state.document;
    if (json) {
        std::cout << mesh::serialize_peer_cache(
            doc.peers, mesh::Clock::time_point(std::chrono::seconds(doc.updated_at)));
    } else {
        print_table(cache, doc);
    }
    // With --json, stdout stays the file schema; what was left out goes to stderr.
    std::ostream& notes = json ? std::cerr : std::cout;
    print_issues(notes, doc.skipped, doc.invalid,
                 " invalid " + std::string(doc.invalid == 1 ? "entry" : "entries") +
                     " skipped (the daemon skips them too):");
    print_issues(notes, doc.dropped_hostnames, doc.hostnames_dropped,
                 " invalid " + std::string(doc.hostnames_dropped == 1 ? "hostname" : "hostnames") +
                     " dropped, the peers kept (the daemon does the same):");
    return 0;
}

}  // namespace

int run_cache(Args args) {
    if (args.empty()) {
        print_usage(std::cerr);
        return 1;
    }
    const std::string& sub = args.front();
    if (sub == "--help" || sub == "-h" || sub == "help") {
        print_usage(std::cout);
        return 0;
    }
    if (sub == "show") {
        return run_show(args.subspan(1));
    }
    throw UsageError("unknown subcommand '" + sub + "' (expected: show)");
}

}  // namespace wgmesh::cli
