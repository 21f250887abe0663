#include "tools/wgmesh/daemon/interface_state.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "mesh/json_input.h"
#include "netlink/atomic_file.h"
#include "netlink/interface_name.h"

namespace wgmesh::cli {
namespace {

constexpr std::size_t kMaxStateBytes = 64 * 1024;
constexpr std::size_t kMaxAddresses = 64;

}  // namespace

std::filesystem::path interface_state_path(const std::filesystem::path& state_dir,
                                           std::string_view interface_name) {
    netlink::require_valid_interface_name(interface_name);
    return state_dir / (std::string(interface_name) + ".state");
}

std::optional<InterfaceState> read_interface_state(const std::filesystem::path& path) {
    const auto text = netlink::read_file_if_exists(path);
    if (!text) {
        return std::nullopt;
    }
    const auto bad = [&](const std::string& why) {
        return std::runtime_error("interface state " + path.string() + ": " + why);
    };
    std::string error;
    const auto json = mesh::parse_json_bounded(*text, {kMaxStateBytes, 8}, error);
    if (!json) {
        throw bad(error);
    }
    if (!json->is_object()) {
        throw bad("not a JSON object");
    }
    InterfaceState state;
    const auto created = json->find("created");
    if (created == json->end() || !created->is_boolean()) {
        throw bad("\"created\" must be true or false");
    }
    state.created = created->get<bool>();
    if (const auto it = json->find("backend"); it != json->end()) {
        if (!it->is_string() || (*it != "kernel" && *it != "userspace")) {
            throw bad("\"backend\" must be \"kernel\" or \"userspace\"");
        }
        state.backend = it->get<std::string>();
    }
    if (const auto it = json->find("addresses"); it != json->end()) {
        if (!it->is_array() || it->size() > kMaxAddresses) {
            throw bad("\"addresses\" must be a list of at most 64 addresses");
        }
        for (const auto& entry : *it) {
            const auto address = entry.is_string()
                                     ? netlink::InterfaceAddress::parse(entry.get<std::string>())
                                     : std::nullopt;
            if (!address) {
                throw bad("invalid address " + entry.dump());
            }
            state.addresses.push_back(*address);
        }
    }
    return state;
}

void write_interface_state(const std::filesystem::path& path, const InterfaceState& state) {
    nlohmann::json json = {{"version", 1}, {"created", state.created}};
    if (!state.backend.empty()) {
        json["backend"] = state.backend;
    }
    auto addresses = nlohmann::json::array();
    for (const auto& address : state.addresses) {
        addresses.push_back(address.to_string());
    }
    json["addresses"] = std::move(addresses);
    // Like the key, nonce and cache writers: the state directory may be a symlink (systemd's
    // StateDirectory= with DynamicUser= links /var/lib/wgmesh to /var/lib/private/wgmesh).
    netlink::make_private_directories(path.parent_path());
    netlink::write_file_atomically(path, json.dump(2) + "\n", {.mode = 0600});
}

}  // namespace wgmesh::cli
