#include "mesh/control_methods.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <utility>

#include "mesh/peers_file.h"
#include "mesh/version.h"

namespace wgmesh::mesh {
namespace {

std::int64_t unix_seconds(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

void require_no_params(const ControlRequest& request) {
    if (!request.params.empty()) {
        throw std::invalid_argument("method " + request.method + " takes no params");
    }
}

// `status`'s "health" object: how many peers are in each state, and which are offline.
nlohmann::json health_summary(const std::unordered_map<wg::Key, PeerHealthStatus>& statuses) {
    std::map<std::string_view, std::size_t> counts = {
        {"unchecked", 0}, {"handshake", 0}, {"probe", 0}, {"failing", 0}, {"offline", 0}};
    std::vector<std::string> offline;
    for (const auto& [key, status] : statuses) {
        ++counts[to_string(status.verdict)];
        if (status.verdict == HealthVerdict::kOffline) {
            offline.push_back(key.to_base64());
        }
    }
    std::sort(offline.begin(), offline.end());
    auto json = nlohmann::json::object();
    for (const auto& [state, count] : counts) {
        json[std::string(state)] = count;
    }
    json["offline_peers"] = offline;
    return json;
}

nlohmann::json keys_json(const std::vector<Peer>& peers) {
    auto list = nlohmann::json::array();
    for (const auto& peer : peers) {
        list.push_back(peer.wg_pubkey.to_base64());
    }
    return list;
}

}  // namespace

nlohmann::json peer_to_json(const PeerEntry& entry, const RelayAssignments* relays,
                            const ExpectedMeshIps* expected, Clock::time_point now) {
    // The cache's own serializer defines the schema, so `peers --json` and the cache file
    // never drift apart.
    auto document = nlohmann::json::parse(serialize_peer_cache({entry.peer}, now));
    auto json = document.at("peers").at(0);
    json["confirmed"] = entry.confirmed;
    json["discovered_via"] = entry.peer.discovered_via;
    if (!entry.peer.endpoint_method.empty()) {
        json["endpoint_method"] = entry.peer.endpoint_method;
    }
    if (relays != nullptr) {
        if (const auto it = relays->find(entry.peer.wg_pubkey); it != relays->end()) {
            json["relay"] = it->second.to_base64();
        }
    }
    if (expected != nullptr) {
        if (const auto it = expected->find(entry.peer.wg_pubkey); it != expected->end()) {
            json["expected_mesh_ip"] = it->second.to_string();
        }
    }
    return json;
}

nlohmann::json health_to_json(const PeerHealthStatus& status) {
    return {
        {"state", to_string(status.verdict)},
        {"failures", status.failures},
        {"offline_until", status.offline_until ? nlohmann::json(unix_seconds(*status.offline_until))
                                               : nlohmann::json()},
        {"rtt_us", status.rtt ? nlohmann::json(status.rtt->count()) : nlohmann::json()},
        {"last_error",
         status.last_error.empty() ? nlohmann::json() : nlohmann::json(status.last_error)},
        {"failover_watch", status.failover_watch}};
}

ControlMethods::ControlMethods(ControlContext context) : context_(std::move(context)) {
    if (context_.store == nullptr || context_.cache == nullptr || context_.addressing == nullptr) {
        throw std::invalid_argument("control methods need a store, a cache and the addressing");
    }
}

nlohmann::json ControlMethods::handle(const ControlRequest& request) {
    if (request.method == "status") {
        require_no_params(request);
        return status();
    }
    if (request.method == "peers") {
        require_no_params(request);
        return peers();
    }
    if (request.method == "peer.add") {
        return add_peer(request.params);
    }
    if (request.method == "peer.remove") {
        return remove_peer(request.params);
    }
    if (request.method == "cache.save") {
        require_no_params(request);
        return save_cache();
    }
    if (request.method == "metrics" && context_.metrics) {
        require_no_params(request);
        return {{"text", context_.metrics()}};
    }
    throw std::invalid_argument("unknown method \"" + request.method +
                                "\" (status, peers, peer.add, peer.remove, " +
                                (context_.metrics ? "cache.save, metrics)" : "cache.save)"));
}

nlohmann::json ControlMethods::status() const {
    const auto now = context_.store->now();
    const auto entries = context_.store->all_entries();
    const auto usable = context_.store->usable(now);
    std::size_t confirmed = 0;
    for (const auto& entry : entries) {
        confirmed += entry.confirmed ? 1 : 0;
    }
    nlohmann::json status = {
        {"version", version()},
        {"interface", context_.interface},
        {"mesh_id", context_.mesh_id},
        {"public_key", context_.public_key.to_base64()},
        {"listen_port", context_.listen_port},
        {"mesh_network", context_.addressing->network_v4().to_string()},
        {"peers",
         {{"known", entries.size()},
          {"usable", usable.size()},
          {"active", context_.store->active(now).size()},
          {"confirmed", confirmed},
          {"cached", entries.size() - confirmed}}},
    };
    if (context_.local_mesh_ip) {
        status["mesh_ip"] = context_.local_mesh_ip().to_string();
    }
    if (context_.mesh_ipv6) {
        status["mesh_ipv6"] = context_.mesh_ipv6->to_string();
    }
    if (context_.interface_health) {
        const auto health = context_.interface_health();
        status["interface_health"] = {
            {"fault", health.fault ? nlohmann::json(*health.fault) : nlohmann::json()},
            {"recreations", health.recreations}};
    }
    if (context_.kernel_state) {
        status["kernel"] = context_.kernel_state();
    }
    if (context_.peer_health) {
        status["health"] = health_summary(context_.peer_health());
    }
    if (context_.probe_server) {
        status["probe"] = context_.probe_server();
    }
    if (context_.forwarding_path) {
        status["forwarding_path"] = context_.forwarding_path();
    }
    status["cycles"] = context_.cycles ? context_.cycles() : 0;
    const auto cycle = context_.last_cycle ? context_.last_cycle() : std::nullopt;
    if (cycle) {
        auto relays = nlohmann::json::object();
        for (const auto& [peer, relay] : cycle->relays) {
            relays[peer.to_base64()] = relay.to_base64();
        }
        status["last_cycle"] = {
            {"finished_at", unix_seconds(cycle->finished)},
            {"duration_ms",
             std::chrono::duration_cast<std::chrono::milliseconds>(cycle->finished - cycle->started)
                 .count()},
            {"configured_peers", cycle->configured_peers},
            {"routes", cycle->desired_routes},
            {"routes_added", cycle->routes.added},
            {"routes_removed", cycle->routes.removed},
            {"collisions", cycle->collisions.size()},
            {"errors", cycle->errors},
            {"warnings", cycle->route_warnings},
        };
        status["relays"] = std::move(relays);
    } else {
        status["last_cycle"] = nullptr;
        status["relays"] = nlohmann::json::object();
    }
    if (context_.epoch) {
        if (const auto epoch = context_.epoch()) {
            status["epoch"] = {{"id", epoch->id},
                               {"started_at", unix_seconds(epoch->started_at)},
                               {"relays", keys_json(epoch->relays)}};
        }
    }
    return status;
}

nlohmann::json ControlMethods::peers() const {
    const auto now = context_.store->now();
    const auto cycle = context_.last_cycle ? context_.last_cycle() : std::nullopt;
    const RelayAssignments* relays = cycle ? &cycle->relays : nullptr;
    const auto expected =
        context_.expected_mesh_ips ? context_.expected_mesh_ips() : ExpectedMeshIps{};
    const auto health = context_.peer_health ? context_.peer_health()
                                             : std::unordered_map<wg::Key, PeerHealthStatus>{};
    auto list = nlohmann::json::array();
    for (const auto& entry : context_.store->all_entries()) {
        auto json = peer_to_json(entry, relays, &expected, now);
        // Not in the cache file: the Go daemon's cache has no latency field.
        if (entry.peer.latency) {
            json["latency_ms"] = entry.peer.latency->count();
        }
        if (context_.peer_health) {
            const auto it = health.find(entry.peer.wg_pubkey);
            json["health"] = health_to_json(it == health.end() ? PeerHealthStatus{} : it->second);
        }
        list.push_back(std::move(json));
    }
    return list;
}

nlohmann::json ControlMethods::add_peer(const nlohmann::json& params) {
    // The peers file's strict parser: the same fields, checks and derivations.
    const auto content = parse_peers_file(nlohmann::json::array({params}).dump(),
                                          *context_.addressing, context_.public_key);
    if (content.skipped_self) {
        throw std::invalid_argument("wg_pubkey is this node's own key");
    }
    const Peer& peer = content.peers.at(0);
    std::lock_guard lock(mutex_);
    const auto outcome = context_.store->update(peer, kControlMethod);
    if (!outcome.accepted()) {
        throw std::runtime_error("peer " + peer.wg_pubkey.to_base64() +
                                 " refused by the store: " + outcome.reason);
    }
    added_.insert_or_assign(peer.wg_pubkey, peer);
    nlohmann::json result = {{"wg_pubkey", peer.wg_pubkey.to_base64()},
                             {"added", outcome.result == UpdateResult::kAdded},
                             {"mesh_ip", peer.mesh_ip ? peer.mesh_ip->to_string() : ""}};
    // An invalid hostname is dropped, never the peer (SPEC 4); the caller learns why.
    if (!content.notes.empty()) {
        result["warnings"] = content.notes;
    }
    return result;
}

nlohmann::json ControlMethods::remove_peer(const nlohmann::json& params) {
    if (params.size() != 1 || !params.contains("wg_pubkey") || !params["wg_pubkey"].is_string()) {
        throw std::invalid_argument("peer.remove takes exactly {\"wg_pubkey\": KEY}");
    }
    const auto key = wg::Key::parse(params["wg_pubkey"].get_ref<const std::string&>());
    if (!key || key->is_zero()) {
        throw std::invalid_argument("wg_pubkey is not a valid public key");
    }
    // Under the lock, so that a concurrent refresh() cannot bring the peer back.
    std::lock_guard lock(mutex_);
    added_.erase(*key);
    const bool removed = context_.store->remove(*key);
    return {{"wg_pubkey", key->to_base64()}, {"removed", removed}};
}

nlohmann::json ControlMethods::save_cache() const {
    context_.cache->save(*context_.store);
    return {{"path", context_.cache->path().string()}, {"peers", context_.store->size()}};
}

void ControlMethods::refresh() {
    std::lock_guard lock(mutex_);
    for (const auto& [key, peer] : added_) {
        context_.store->update(peer, kControlMethod);
    }
}

}  // namespace wgmesh::mesh
