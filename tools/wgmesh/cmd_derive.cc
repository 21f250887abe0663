// `wgmesh derive`: the keys and addresses a secret gives (SPEC sections 3 and 13), for
// operators checking a mesh and for scripts (`--json` is stable).
#include <array>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "mesh/derived_keys.h"
#include "mesh/mesh_address.h"
#include "tools/wgmesh/commands.h"
#include "tools/wgmesh/flags.h"
#include "tools/wgmesh/secret_source.h"
#include "wg/encoding.h"
#include "wg/key.h"

namespace wgmesh::cli {

namespace {

const FlagSpec kDeriveFlags[] = {
    {"secret", "S", "the mesh secret (visible in the process list: prefer the others)"},
    {"secret-file", "F", "read the mesh secret from file F"},
    {"pubkey", "K", "also derive the mesh addresses of WireGuard public key K"},
    {"nonce", "N", "collision nonce for the mesh IPv4 address (0 = none)"},
    {"mesh-subnet", "CIDR", "custom IPv4 mesh subnet (at most /30) instead of 10.x.0.0/16"},
    {"json", "", "print one JSON object"},
};

void print_usage() {
    std::cout << "Usage: wgmesh derive (--secret S | --secret-file F | env "
              << service::kSecretVariable
              << ")\n"
                 "                     [--pubkey K] [--nonce N] [--mesh-subnet CIDR] [--json]\n\n"
                 "Prints the keys derived from a mesh secret and, with --pubkey, the mesh\n"
                 "addresses of a node. Byte fields are lowercase hex.\n\nFlags:\n"
              << describe_flags(kDeriveFlags);
}

template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& bytes) {
    return wg::hex_encode(bytes);
}

}  // namespace

int run_derive(Args args) {
    const Flags flags(args, kDeriveFlags);
    if (flags.help_requested()) {
        print_usage();
        return 0;
    }
    if (!flags.positional().empty()) {
        throw UsageError("unexpected argument '" + flags.positional().front() + "'");
    }
    const auto nonce = static_cast<std::uint32_t>(
        flags.number("nonce", 0, std::numeric_limits<std::uint32_t>::max()).value_or(0));
    std::optional<netlink::Prefix> custom_subnet;
    if (auto cidr = flags.value("mesh-subnet")) {
        custom_subnet = mesh::parse_custom_mesh_subnet(*cidr);
    }
    std::optional<wg::Key> public_key;
    if (auto text = flags.value("pubkey")) {
        public_key = wg::Key::parse(*text);
        if (!public_key) {
            throw UsageError("--pubkey must be a WireGuard public key (44 base64 or 64 hex chars)");
        }
    }
    if (flags.has("nonce") && !public_key) {
        throw UsageError("--nonce only changes the mesh address: it needs --pubkey");
    }

    const std::string secret = take_secret(flags, {}, [](const std::string& text) {
        std::cerr << "wgmesh derive: warning: " << text << "\n";
    });
    const mesh::DerivedKeys keys = mesh::derive_keys(secret);
    const mesh::MeshAddressing addressing(secret, keys, custom_subnet);

    // Insertion order is the order of SPEC section 13, so the output reads the same way.
    nlohmann::ordered_json out;
    out["network_id"] = hex(keys.network_id);
    out["mesh_id"] = keys.mesh_id();
    out["gossip_key"] = hex(keys.gossip_key);
    out["mesh_subnet"] = addressing.network_v4().to_string();
    out["mesh_prefix_v6"] = keys.mesh_network_v6().to_string();
    out["multicast_id"] = hex(keys.multicast_id);
    out["psk"] = hex(keys.psk);
    out["gossip_port"] = keys.gossip_port;
    out["rendezvous_id"] = hex(keys.rendezvous_id);
    out["membership_key"] = hex(keys.membership_key);
    out["epoch_seed"] = hex(keys.epoch_seed);
    if (public_key) {
        out["mesh_ip"] = addressing.mesh_ip(*public_key, nonce).to_string();
        out["mesh_ipv6"] = addressing.mesh_ipv6(*public_key).to_string();
    }

    if (flags.has("json")) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    for (const auto& [name, value] : out.items()) {
        std::string label = name;
        label.resize(16, ' ');
        std::cout << label << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    }
    return 0;
}

}  // namespace wgmesh::cli
